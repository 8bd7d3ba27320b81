// One datagram of facewire's dense mesh stream (MeshDeform displacements, chunked): the format
// written by facewire/bridges/unity_mesh.py. Little-endian; every field is checked against the
// datagram's length before anything is copied.
using System;
using System.Text;

namespace Facewire.LiveLink
{
    public enum MeshPacketError
    {
        None,
        TooShort,
        BadMagic,
        WrongVersion,
        BadChunk,
        BadRange,
        BadLength,
        BadSubject,
        TooManyVertices,
    }

    /// <summary>Header of one chunk; its displacements stay in the datagram until copied.</summary>
    public struct MeshDeformChunk
    {
        public int ChunkIndex;
        public int ChunkCount;
        public uint Frame;
        public int VertexCount;
        public int FirstVertex;
        public int ChunkVertices;
        public double MediaTime;
        public float MetresPerUnit;
        public string Subject;
        public int PayloadOffset;
    }

    public static class MeshDeformPacket
    {
        public const byte Version = 1;
        public const int HeaderBytes = 37; // up to and including the subject length byte
        public const int MaxSubjectBytes = 64;
        public const int MaxVertices = 4 * 1024 * 1024;
        static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        public static MeshPacketError TryParse(byte[] d, int length, out MeshDeformChunk chunk)
        {
            chunk = new MeshDeformChunk();
            if (length < HeaderBytes) return MeshPacketError.TooShort;
            if (d[0] != (byte)'F' || d[1] != (byte)'W' || d[2] != (byte)'M' || d[3] != (byte)'D') return MeshPacketError.BadMagic;
            if (d[4] != Version) return MeshPacketError.WrongVersion;
            chunk.ChunkIndex = BitConverter.ToUInt16(d, 6);
            chunk.ChunkCount = BitConverter.ToUInt16(d, 8);
            chunk.Frame = BitConverter.ToUInt32(d, 10);
            uint vertices = BitConverter.ToUInt32(d, 14);
            uint first = BitConverter.ToUInt32(d, 18);
            chunk.ChunkVertices = BitConverter.ToUInt16(d, 22);
            chunk.MediaTime = BitConverter.ToDouble(d, 24);
            chunk.MetresPerUnit = BitConverter.ToSingle(d, 32);
            int subjectBytes = d[36];
            if (chunk.ChunkCount == 0 || chunk.ChunkIndex >= chunk.ChunkCount) return MeshPacketError.BadChunk;
            if (vertices > MaxVertices) return MeshPacketError.TooManyVertices;
            if (first + (ulong)chunk.ChunkVertices > vertices) return MeshPacketError.BadRange;
            chunk.VertexCount = (int)vertices;
            chunk.FirstVertex = (int)first;
            if (subjectBytes > MaxSubjectBytes) return MeshPacketError.BadSubject;
            chunk.PayloadOffset = HeaderBytes + subjectBytes;
            if (length != chunk.PayloadOffset + chunk.ChunkVertices * 12) return MeshPacketError.BadLength;
            if (float.IsNaN(chunk.MetresPerUnit) || chunk.MetresPerUnit <= 0f) return MeshPacketError.BadRange;
            try
            {
                chunk.Subject = StrictUtf8.GetString(d, HeaderBytes, subjectBytes);
            }
            catch (ArgumentException)
            {
                return MeshPacketError.BadSubject;
            }
            return MeshPacketError.None;
        }
    }
}
