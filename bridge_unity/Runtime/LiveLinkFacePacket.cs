// Live Link Face UDP packets, version 6: what the iPhone Live Link Face app and facewire's
// Python bridge send, and what Unreal's Apple ARKit face support receives.
// Layout (big-endian): uint8 version 6; int32 length + UTF-8 device id; int32 length + UTF-8
// subject name; int32 frame number; float32 sub-frame; int32 rate numerator; int32 rate
// denominator; uint8 count (61); 61 float32 (52 ARKit shapes in Unreal's order, then head and
// eye rotations as degrees / 180).
using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Facewire.LiveLink
{
    /// <summary>Why a datagram was refused (None when it parsed).</summary>
    public enum PacketError
    {
        None,
        TooShort,
        TooLong,
        WrongVersion,
        BadStringLength,
        BadUtf8,
        BadFrameRate,
        BadSubFrame,
        WrongCount,
        TrailingBytes,
    }

    /// <summary>One decoded frame for one subject. Values are in wire order (see Names).</summary>
    public sealed class LiveLinkFaceFrame
    {
        public const int ShapeCount = 52;
        public const int ValueCount = 61;

        public string DeviceId = "";
        public string Subject = "";
        public int FrameNumber;
        public float SubFrame;
        public int RateNumerator = 60;
        public int RateDenominator = 1;
        public readonly float[] Values = new float[ValueCount];
        /// <summary>Counts frames stored for this subject; changes when a newer frame arrived.</summary>
        public long Sequence;
        /// <summary>Listener clock (seconds) when the datagram arrived.</summary>
        public double ReceivedAt;

        /// <summary>Frame time in seconds on the sender's clock (facewire: the audio clock).</summary>
        public double FrameSeconds
        {
            get { return (FrameNumber + (double)SubFrame) * RateDenominator / RateNumerator; }
        }

        public void CopyTo(LiveLinkFaceFrame other)
        {
            other.DeviceId = DeviceId;
            other.Subject = Subject;
            other.FrameNumber = FrameNumber;
            other.SubFrame = SubFrame;
            other.RateNumerator = RateNumerator;
            other.RateDenominator = RateDenominator;
            Array.Copy(Values, other.Values, ValueCount);
            other.Sequence = Sequence;
            other.ReceivedAt = ReceivedAt;
        }
    }

    /// <summary>Strict parser: a datagram is accepted only if every field is exactly as specified.</summary>
    public static class LiveLinkFacePacket
    {
        public const byte Version = 6;
        /// <summary>Unreal's receive buffer; longer datagrams never reach a stock Unreal either.</summary>
        public const int MaxPacketBytes = 1286;
        /// <summary>Version, two empty strings, frame time, rate, count and 61 floats.</summary>
        public const int FixedPacketBytes = 1 + 4 + 4 + 8 + 8 + 1 + 4 * LiveLinkFaceFrame.ValueCount;

        /// <summary>The 61 values in wire order (Unreal's EARFaceBlendShape names).</summary>
        public static readonly string[] Names =
        {
            "EyeBlinkLeft", "EyeLookDownLeft", "EyeLookInLeft", "EyeLookOutLeft", "EyeLookUpLeft",
            "EyeSquintLeft", "EyeWideLeft", "EyeBlinkRight", "EyeLookDownRight", "EyeLookInRight",
            "EyeLookOutRight", "EyeLookUpRight", "EyeSquintRight", "EyeWideRight", "JawForward",
            "JawLeft", "JawRight", "JawOpen", "MouthClose", "MouthFunnel", "MouthPucker", "MouthLeft",
            "MouthRight", "MouthSmileLeft", "MouthSmileRight", "MouthFrownLeft", "MouthFrownRight",
            "MouthDimpleLeft", "MouthDimpleRight", "MouthStretchLeft", "MouthStretchRight",
            "MouthRollLower", "MouthRollUpper", "MouthShrugLower", "MouthShrugUpper", "MouthPressLeft",
            "MouthPressRight", "MouthLowerDownLeft", "MouthLowerDownRight", "MouthUpperUpLeft",
            "MouthUpperUpRight", "BrowDownLeft", "BrowDownRight", "BrowInnerUp", "BrowOuterUpLeft",
            "BrowOuterUpRight", "CheekPuff", "CheekSquintLeft", "CheekSquintRight", "NoseSneerLeft",
            "NoseSneerRight", "TongueOut", "HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw",
            "LeftEyePitch", "LeftEyeRoll", "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
        };

        static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        [StructLayout(LayoutKind.Explicit)]
        struct FloatBits
        {
            [FieldOffset(0)] public int Int;
            [FieldOffset(0)] public float Float;
        }

        static int ReadInt32(byte[] d, int p)
        {
            return (d[p] << 24) | (d[p + 1] << 16) | (d[p + 2] << 8) | d[p + 3];
        }

        static float ReadFloat(byte[] d, int p)
        {
            FloatBits bits = default(FloatBits);
            bits.Int = ReadInt32(d, p);
            return bits.Float;
        }

        /// <summary>Index of a wire name (case-insensitive), or -1.</summary>
        public static int IndexOf(string name)
        {
            for (int i = 0; i < Names.Length; i++)
            {
                if (string.Equals(Names[i], name, StringComparison.OrdinalIgnoreCase)) return i;
            }
            return -1;
        }

        /// <summary>Decode data[0..length) into frame. On error the frame's content is undefined.</summary>
        public static PacketError TryParse(byte[] data, int length, LiveLinkFaceFrame frame)
        {
            if (length < 1) return PacketError.TooShort;
            if (data[0] != Version) return PacketError.WrongVersion;
            if (length < FixedPacketBytes) return PacketError.TooShort;
            if (length > MaxPacketBytes) return PacketError.TooLong;
            int pos = 1;
            string device, subject;
            PacketError err = ReadString(data, length, ref pos, out device);
            if (err != PacketError.None) return err;
            err = ReadString(data, length, ref pos, out subject);
            if (err != PacketError.None) return err;
            int expected = pos + 8 + 8 + 1 + 4 * LiveLinkFaceFrame.ValueCount;
            if (length < expected) return PacketError.TooShort;
            int frameNumber = ReadInt32(data, pos);
            float subFrame = ReadFloat(data, pos + 4);
            int num = ReadInt32(data, pos + 8);
            int den = ReadInt32(data, pos + 12);
            pos += 16;
            if (num <= 0 || den <= 0) return PacketError.BadFrameRate;
            if (!(subFrame >= 0f && subFrame < 1f)) return PacketError.BadSubFrame;
            if (data[pos] != LiveLinkFaceFrame.ValueCount) return PacketError.WrongCount;
            pos += 1;
            if (length != expected) return PacketError.TrailingBytes;
            for (int i = 0; i < LiveLinkFaceFrame.ValueCount; i++, pos += 4)
            {
                frame.Values[i] = ReadFloat(data, pos);
            }
            frame.DeviceId = device;
            frame.Subject = subject;
            frame.FrameNumber = frameNumber;
            frame.SubFrame = subFrame;
            frame.RateNumerator = num;
            frame.RateDenominator = den;
            return PacketError.None;
        }

        static PacketError ReadString(byte[] data, int length, ref int pos, out string value)
        {
            value = null;
            if (pos + 4 > length) return PacketError.TooShort;
            int n = ReadInt32(data, pos);
            pos += 4;
            if (n < 0 || n > length - pos) return PacketError.BadStringLength;
            try
            {
                value = StrictUtf8.GetString(data, pos, n);
            }
            catch (ArgumentException)
            {
                return PacketError.BadUtf8;
            }
            pos += n;
            return PacketError.None;
        }
    }
}
