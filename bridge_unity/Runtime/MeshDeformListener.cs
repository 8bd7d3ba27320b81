// Receives facewire's dense mesh stream on one UDP port (shared by every receiver component on
// it) and reassembles frames per subject on a background thread. A frame becomes visible only
// once all its chunks arrived; a chunk of a newer frame abandons an incomplete older one
// (counted in FramesDropped), and chunks of older frames are ignored. Nothing here touches
// the Unity API except Debug logging.
using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Threading;

namespace Facewire.LiveLink
{
    /// <summary>A complete frame: VertexCount * 3 floats (x, y, z per vertex) in the rig's axes and units.</summary>
    public sealed class MeshDeformFrame
    {
        public string Subject = "";
        public uint Frame;
        public int VertexCount;
        public double MediaTime;
        public float MetresPerUnit = 1f;
        public float[] Displacements = new float[0];
        public long Sequence;

        public void CopyTo(MeshDeformFrame o)
        {
            o.Subject = Subject; o.Frame = Frame; o.VertexCount = VertexCount; o.MediaTime = MediaTime;
            o.MetresPerUnit = MetresPerUnit; o.Sequence = Sequence;
            if (o.Displacements.Length != Displacements.Length) o.Displacements = new float[Displacements.Length];
            Buffer.BlockCopy(Displacements, 0, o.Displacements, 0, Displacements.Length * 4);
        }
    }

    public sealed class MeshDeformListener
    {
        static readonly Dictionary<int, MeshDeformListener> Shared = new Dictionary<int, MeshDeformListener>();

        sealed class Assembly
        {
            public readonly MeshDeformFrame Frame = new MeshDeformFrame();
            public bool[] Have = new bool[0];
            public int Count;
            public bool Started;
        }

        readonly object gate = new object();
        readonly Dictionary<string, Assembly> building = new Dictionary<string, Assembly>();
        readonly Dictionary<string, MeshDeformFrame> latest = new Dictionary<string, MeshDeformFrame>();
        readonly HashSet<MeshPacketError> warned = new HashSet<MeshPacketError>();
        readonly int requestedPort;
        UdpClient client;
        Thread thread;
        volatile bool running;
        int refCount;
        long received, rejected, completed, dropped;
        string newestSubject;

        public int Port { get; private set; }
        /// <summary>Datagrams accepted / refused, frames completed / abandoned incomplete.</summary>
        public long PacketsReceived { get { return Interlocked.Read(ref received); } }
        public long PacketsRejected { get { return Interlocked.Read(ref rejected); } }
        public long FramesCompleted { get { return Interlocked.Read(ref completed); } }
        public long FramesDropped { get { return Interlocked.Read(ref dropped); } }

        MeshDeformListener(int port) { requestedPort = port; }

        /// <summary>Get the listener for a port, opening the socket on first use.</summary>
        public static MeshDeformListener Acquire(int port)
        {
            lock (Shared)
            {
                MeshDeformListener l;
                if (!Shared.TryGetValue(port, out l))
                {
                    l = new MeshDeformListener(port);
                    l.Start();
                    Shared[port] = l;
                    if (port == 0) Shared[l.Port] = l;
                }
                l.refCount++;
                return l;
            }
        }

        /// <summary>Give back a listener from Acquire; the last release closes the socket.</summary>
        public void Release()
        {
            lock (Shared)
            {
                if (--refCount > 0) return;
                Shared.Remove(requestedPort);
                Shared.Remove(Port);
            }
            running = false;
            try { client.Close(); } catch (Exception) { }
            if (thread != null && thread != Thread.CurrentThread) thread.Join(500);
        }

        void Start()
        {
            client = new UdpClient(AddressFamily.InterNetwork);
            client.Client.ReceiveBufferSize = 8 * 1024 * 1024; // a dense frame is hundreds of datagrams
            client.Client.Bind(new IPEndPoint(IPAddress.Any, requestedPort));
            Port = ((IPEndPoint)client.Client.LocalEndPoint).Port;
            running = true;
            thread = new Thread(ReceiveLoop) { IsBackground = true, Name = "Facewire mesh stream :" + Port };
            thread.Start();
            UnityEngine.Debug.Log("[Facewire] listening for the dense mesh stream on UDP " + Port);
        }

        void ReceiveLoop()
        {
            byte[] buffer = new byte[65536];
            Socket socket = client.Client;
            while (running)
            {
                int n;
                try
                {
                    n = socket.Receive(buffer);
                }
                catch (SocketException)
                {
                    if (!running) return;
                    continue;
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
                Handle(buffer, n);
            }
        }

        /// <summary>Parse and assemble one datagram (public so tests can feed bytes without a socket).</summary>
        public MeshPacketError Handle(byte[] data, int length)
        {
            MeshDeformChunk c;
            MeshPacketError err = MeshDeformPacket.TryParse(data, length, out c);
            if (err != MeshPacketError.None)
            {
                Interlocked.Increment(ref rejected);
                bool first;
                lock (gate) first = warned.Add(err);
                if (first)
                {
                    UnityEngine.Debug.LogWarning("[Facewire] ignoring mesh stream packet on UDP " + Port + ": " + err
                        + ", " + length + " bytes; further ones are counted silently");
                }
                return err;
            }
            Interlocked.Increment(ref received);
            lock (gate)
            {
                Assembly a;
                if (!building.TryGetValue(c.Subject, out a))
                {
                    a = new Assembly();
                    building[c.Subject] = a;
                }
                if (!a.Started || c.Frame != a.Frame.Frame || c.VertexCount != a.Frame.VertexCount || c.ChunkCount != a.Have.Length)
                {
                    if (a.Started && unchecked((int)(c.Frame - a.Frame.Frame)) < 0) return MeshPacketError.None; // late chunk
                    if (a.Started && a.Count > 0 && a.Count < a.Have.Length) Interlocked.Increment(ref dropped);
                    a.Started = true;
                    a.Frame.Frame = c.Frame;
                    a.Frame.Subject = c.Subject;
                    a.Frame.VertexCount = c.VertexCount;
                    if (a.Frame.Displacements.Length != c.VertexCount * 3) a.Frame.Displacements = new float[c.VertexCount * 3];
                    if (a.Have.Length != c.ChunkCount) a.Have = new bool[c.ChunkCount];
                    else Array.Clear(a.Have, 0, a.Have.Length);
                    a.Count = 0;
                }
                if (a.Count == a.Have.Length || a.Have[c.ChunkIndex]) return MeshPacketError.None; // duplicate
                Buffer.BlockCopy(data, c.PayloadOffset, a.Frame.Displacements, c.FirstVertex * 12, c.ChunkVertices * 12);
                a.Have[c.ChunkIndex] = true;
                a.Count++;
                a.Frame.MediaTime = c.MediaTime;
                a.Frame.MetresPerUnit = c.MetresPerUnit;
                if (a.Count < a.Have.Length) return MeshPacketError.None;
                MeshDeformFrame slot;
                if (!latest.TryGetValue(c.Subject, out slot))
                {
                    slot = new MeshDeformFrame();
                    latest[c.Subject] = slot;
                }
                long seq = slot.Sequence + 1;
                a.Frame.CopyTo(slot);
                slot.Sequence = seq;
                newestSubject = c.Subject;
                Interlocked.Increment(ref completed);
            }
            return MeshPacketError.None;
        }

        /// <summary>Copy the newest complete frame of a subject (empty or null: whichever subject completed last).</summary>
        public bool TryGetLatest(string subject, MeshDeformFrame into)
        {
            lock (gate)
            {
                string key = string.IsNullOrEmpty(subject) ? newestSubject : subject;
                MeshDeformFrame slot;
                if (key == null || !latest.TryGetValue(key, out slot)) return false;
                if (slot.Sequence == into.Sequence && slot.Subject == into.Subject) return false; // nothing new
                slot.CopyTo(into);
                return true;
            }
        }
    }
}
