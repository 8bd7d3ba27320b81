// Automatic matching of ARKit curve names to a mesh's blend shape names. Avatars name the same
// shape many ways: "jawOpen" (ARKit, Ready Player Me), "JawOpen" (Unreal, VRoid perfect sync),
// "blendShape1.jawOpen" (Maya/FBX exports prefix the blend shape node), "jaw_open",
// "ARKit_JawOpen", "mouthSmile_L" / "mouthSmile.L" (Blender side suffixes).
using System.Text;

namespace Facewire.LiveLink
{
    public static class BlendShapeNameMatcher
    {
        /// <summary>A comparison key: side suffix spelled out, node prefix dropped, lower case,
        /// separators removed, a leading "arkit" dropped. "blendShape1.MouthSmile_L" -> "mouthsmileleft".</summary>
        public static string Normalize(string name)
        {
            if (string.IsNullOrEmpty(name)) return "";
            string s = name.Trim();
            string side = "";
            if (s.Length >= 3)
            {
                char sep = s[s.Length - 2];
                char last = char.ToUpperInvariant(s[s.Length - 1]);
                if ((sep == '_' || sep == '.' || sep == '-' || sep == ' ') && (last == 'L' || last == 'R'))
                {
                    side = last == 'L' ? "left" : "right";
                    s = s.Substring(0, s.Length - 2);
                }
            }
            int dot = s.LastIndexOf('.');
            if (dot >= 0 && dot < s.Length - 1) s = s.Substring(dot + 1);
            StringBuilder b = new StringBuilder(s.Length + side.Length);
            foreach (char c in s)
            {
                if (char.IsLetterOrDigit(c)) b.Append(char.ToLowerInvariant(c));
            }
            b.Append(side);
            string key = b.ToString();
            if (key.StartsWith("arkit") && key.Length > 5) key = key.Substring(5);
            return key;
        }

        /// <summary>True when a mesh shape name denotes the given ARKit / Live Link curve name.</summary>
        public static bool Matches(string curveName, string meshShapeName)
        {
            return Normalize(curveName) == Normalize(meshShapeName);
        }
    }
}
