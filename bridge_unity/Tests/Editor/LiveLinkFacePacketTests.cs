// Edit-mode tests of the Live Link Face v6 parser (Window > General > Test Runner > EditMode).
// Packets are built here byte by byte from the layout in LiveLinkFacePacket.cs, so the tests
// check the parser against the format, not against itself.
using System;
using System.Collections.Generic;
using System.Text;
using NUnit.Framework;

namespace Facewire.LiveLink.Tests
{
    [TestFixture]
    public class LiveLinkFacePacketTests
    {
        static void Int32(List<byte> b, int v)
        {
            b.Add((byte)(v >> 24)); b.Add((byte)(v >> 16)); b.Add((byte)(v >> 8)); b.Add((byte)v);
        }

        static void Float(List<byte> b, float v)
        {
            byte[] raw = BitConverter.GetBytes(v);
            if (BitConverter.IsLittleEndian) Array.Reverse(raw);
            b.AddRange(raw);
        }

        static void Text(List<byte> b, string s)
        {
            byte[] raw = Encoding.UTF8.GetBytes(s);
            Int32(b, raw.Length);
            b.AddRange(raw);
        }

        /// <summary>A packet as the iPhone app or facewire sends it: value i is i / 100 (61 values,
        /// whatever count byte is written).</summary>
        static byte[] Packet(string device = "dev-1", string subject = "Ada", int frame = 120,
                             float subFrame = 0.5f, int num = 60, int den = 1, int count = 61)
        {
            var b = new List<byte> { 6 };
            Text(b, device);
            Text(b, subject);
            Int32(b, frame);
            Float(b, subFrame);
            Int32(b, num);
            Int32(b, den);
            b.Add((byte)count);
            for (int i = 0; i < LiveLinkFaceFrame.ValueCount; i++) Float(b, i / 100f);
            return b.ToArray();
        }

        static PacketError Parse(byte[] data, LiveLinkFaceFrame frame = null)
        {
            return LiveLinkFacePacket.TryParse(data, data.Length, frame ?? new LiveLinkFaceFrame());
        }

        [Test]
        public void ParsesEveryField()
        {
            var frame = new LiveLinkFaceFrame();
            Assert.AreEqual(PacketError.None, Parse(Packet(), frame));
            Assert.AreEqual("dev-1", frame.DeviceId);
            Assert.AreEqual("Ada", frame.Subject);
            Assert.AreEqual(120, frame.FrameNumber);
            Assert.AreEqual(0.5f, frame.SubFrame);
            Assert.AreEqual(60, frame.RateNumerator);
            Assert.AreEqual(1, frame.RateDenominator);
            Assert.AreEqual(2.0083333, frame.FrameSeconds, 1e-6);
            for (int i = 0; i < LiveLinkFaceFrame.ValueCount; i++)
                Assert.AreEqual(i / 100f, frame.Values[i]);
        }

        [Test]
        public void NamesFollowUnrealsOrder()
        {
            Assert.AreEqual(LiveLinkFaceFrame.ValueCount, LiveLinkFacePacket.Names.Length);
            Assert.AreEqual(0, LiveLinkFacePacket.IndexOf("EyeBlinkLeft"));
            Assert.AreEqual(LiveLinkFacePacket.IndexOf("JawOpen"), LiveLinkFacePacket.IndexOf("jawopen"));
            Assert.AreEqual(-1, LiveLinkFacePacket.IndexOf("NotACurve"));
        }

        [Test]
        public void RefusesMalformedPackets()
        {
            byte[] good = Packet();
            byte[] v5 = (byte[])good.Clone();
            v5[0] = 5;
            Assert.AreEqual(PacketError.WrongVersion, Parse(v5));
            byte[] shortPacket = new byte[200];
            Array.Copy(good, shortPacket, shortPacket.Length);
            Assert.AreEqual(PacketError.TooShort, Parse(shortPacket));
            Assert.AreEqual(PacketError.WrongCount, Parse(Packet(count: 60)));
            byte[] trailing = new byte[good.Length + 4];
            Array.Copy(good, trailing, good.Length);
            Assert.AreEqual(PacketError.TrailingBytes, Parse(trailing));
            Assert.AreEqual(PacketError.BadFrameRate, Parse(Packet(num: 0)));
            Assert.AreEqual(PacketError.BadSubFrame, Parse(Packet(subFrame: 1.5f)));
            Assert.AreEqual(PacketError.TooLong, Parse(Packet(subject: new string('a', 1100))));
        }
    }
}
