// Edit-mode tests of the automatic ARKit-name matching of mesh blend shapes.
using NUnit.Framework;

namespace Facewire.LiveLink.Tests
{
    [TestFixture]
    public class BlendShapeNameMatcherTests
    {
        [TestCase("jawOpen", "jawOpen")]
        [TestCase("JawOpen", "jawOpen")]
        [TestCase("blendShape1.jawOpen", "jawOpen")]
        [TestCase("jaw_open", "jawOpen")]
        [TestCase("ARKit_JawOpen", "JawOpen")]
        [TestCase("mouthSmile_L", "mouthSmileLeft")]
        [TestCase("mouthSmile.R", "MouthSmileRight")]
        public void MatchesTheUsualSpellings(string meshShape, string curve)
        {
            Assert.IsTrue(BlendShapeNameMatcher.Matches(curve, meshShape));
        }

        [TestCase("mouthSmile_L", "mouthSmileRight")]
        [TestCase("jawOpen", "jawForward")]
        [TestCase("", "jawOpen")]
        public void KeepsDifferentShapesApart(string meshShape, string curve)
        {
            Assert.IsFalse(BlendShapeNameMatcher.Matches(curve, meshShape));
        }

        [Test]
        public void NormalizesToOneKey()
        {
            Assert.AreEqual("mouthsmileleft", BlendShapeNameMatcher.Normalize("blendShape1.MouthSmile_L"));
        }
    }
}
