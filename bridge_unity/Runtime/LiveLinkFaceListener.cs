// One UDP socket per port, shared by every receiver component that listens on it, so several
// characters (subjects) can be driven through the one port Unreal and the phone app use.
// Datagrams are read on a background thread; the newest frame per subject is kept under a lock
// and the main thread copies it out in LateUpdate. Nothing here touches the Unity API except
// Debug logging, which Unity allows from any thread.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading;

namespace Facewire.LiveLink
{
    public sealed class LiveLinkFaceListener
    {
        static readonly Dictionary<int, LiveLinkFaceListener> Shared = new Dictionary<int, LiveLinkFaceListener>();

        readonly object gate = new object();
        readonly Dictionary<string, LiveLinkFaceFrame> latest = new Dictionary<string, LiveLinkFaceFrame>();
        readonly HashSet<PacketError> warned = new HashSet<PacketError>();
        readonly Stopwatch clock = Stopwatch.StartNew();
        readonly int requestedPort;
        UdpClient client;
        Thread thread;
        volatile bool running;
        int refCount;
        long received;
        long rejected;
        string newestSubject;

        /// <summary>Port actually bound (differs from the requested one only when that was 0).</summary>
        public int Port { get; private set; }
        /// <summary>Datagrams accepted.</summary>
        public long PacketsReceived { get { return Interlocked.Read(ref received); } }
        /// <summary>Datagrams refused (wrong version, bad lengths, count != 61...).</summary>
        public long PacketsRejected { get { return Interlocked.Read(ref rejected); } }
        /// <summary>Seconds on the listener's clock (the clock of LiveLinkFaceFrame.ReceivedAt).</summary>
        public double Now { get { return clock.Elapsed.TotalSeconds; } }

        LiveLinkFaceListener(int port)
        {
            requestedPort = port;
        }

        /// <summary>Get the listener for a port, opening the socket on first use.</summary>
        public static LiveLinkFaceListener Acquire(int port)
        {
            lock (Shared)
            {
                LiveLinkFaceListener l;
                if (!Shared.TryGetValue(port, out l))
                {
                    l = new LiveLinkFaceListener(port);
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
            Stop();
        }

        void Start()
        {
            client = new UdpClient(AddressFamily.InterNetwork);
            client.Client.Bind(new IPEndPoint(IPAddress.Any, requestedPort));
            Port = ((IPEndPoint)client.Client.LocalEndPoint).Port;
            running = true;
            thread = new Thread(ReceiveLoop) { IsBackground = true, Name = "Facewire Live Link :" + Port };
            thread.Start();
            UnityEngine.Debug.Log("[Facewire] listening for Live Link Face packets on UDP " + Port);
        }

        void Stop()
        {
            running = false;
            try { client.Close(); } catch (Exception) { }
            if (thread != null && thread != Thread.CurrentThread) thread.Join(500);
        }

        void ReceiveLoop()
        {
            byte[] buffer = new byte[65536];
            LiveLinkFaceFrame scratch = new LiveLinkFaceFrame();
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
                    continue; // e.g. Windows' WSAECONNRESET after an ICMP error: keep listening
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
                Handle(buffer, n, scratch);
            }
        }

        /// <summary>Parse and store one datagram (public so tests can feed bytes without a socket).</summary>
        public PacketError Handle(byte[] data, int length, LiveLinkFaceFrame scratch)
        {
            PacketError err = LiveLinkFacePacket.TryParse(data, length, scratch);
            if (err != PacketError.None)
            {
                Interlocked.Increment(ref rejected);
                bool first;
                lock (gate) first = warned.Add(err);
                if (first)
                {
                    string detail = err == PacketError.WrongVersion
                        ? " (version " + (length > 0 ? data[0].ToString() : "?") + ", expected 6)"
                        : "";
                    UnityEngine.Debug.LogWarning("[Facewire] ignoring Live Link packet on UDP " + Port + ": "
                        + err + detail + ", " + length + " bytes; further ones are counted silently");
                }
                return err;
            }
            scratch.ReceivedAt = Now;
            lock (gate)
            {
                LiveLinkFaceFrame slot;
                if (!latest.TryGetValue(scratch.Subject, out slot))
                {
                    slot = new LiveLinkFaceFrame();
                    latest[scratch.Subject] = slot;
                }
                long seq = slot.Sequence + 1;
                scratch.CopyTo(slot);
                slot.Sequence = seq;
                newestSubject = scratch.Subject;
            }
            Interlocked.Increment(ref received);
            return PacketError.None;
        }

        /// <summary>Copy the newest frame of a subject (empty or null: whichever subject sent last).</summary>
        public bool TryGetLatest(string subject, LiveLinkFaceFrame into)
        {
            lock (gate)
            {
                string key = string.IsNullOrEmpty(subject) ? newestSubject : subject;
                LiveLinkFaceFrame slot;
                if (key == null || !latest.TryGetValue(key, out slot)) return false;
                slot.CopyTo(into);
                return true;
            }
        }

        /// <summary>Subjects heard so far.</summary>
        public string[] Subjects
        {
            get
            {
                lock (gate)
                {
                    string[] names = new string[latest.Count];
                    latest.Keys.CopyTo(names, 0);
                    return names;
                }
            }
        }
    }
}
