// Test harness for the dense mesh stream, run under mono: fake meshes on the UnityEngine stub,
// receivers enabled the way Unity would (OnEnable, then LateUpdate), real UDP datagrams from
// the Python bridge_unity_mesh node. Prints applied vertices and counters for the test to check.
// Usage: mono meshharness.exe   (listens on a free port, printed as "READY <port>")
using System;
using System.Globalization;
using System.Reflection;
using System.Threading;
using Facewire.LiveLink;
using UnityEngine;

public static class MeshHarness
{
    static void Call(object target, string method)
    {
        MethodInfo m = target.GetType().GetMethod(method, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        m.Invoke(target, null);
    }

    static Mesh MakeMesh(string name, int n)
    {
        Mesh mesh = new Mesh();
        mesh.name = name;
        Vector3[] v = new Vector3[n];
        for (int i = 0; i < n; i++) v[i] = new Vector3(i * 0.01f, 1f, 0f);
        mesh.vertices = v;
        return mesh;
    }

    static bool WaitFor(MeshDeformListener l, string subject, uint frameNumber)
    {
        MeshDeformFrame probe = new MeshDeformFrame();
        DateTime deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            probe.Sequence = -1;
            if (l.TryGetLatest(subject, probe) && probe.Frame == frameNumber) return true;
            Thread.Sleep(5);
        }
        Console.WriteLine("TIMEOUT waiting for " + subject + " frame " + frameNumber);
        return false;
    }

    static void Print(string label, Mesh mesh, params int[] indices)
    {
        CultureInfo inv = CultureInfo.InvariantCulture;
        Vector3[] v = mesh.vertices;
        foreach (int i in indices)
            Console.WriteLine("V " + label + " " + i + " " + v[i].x.ToString("R", inv) + " " + v[i].y.ToString("R", inv) + " " + v[i].z.ToString("R", inv));
    }

    public static int Main(string[] args)
    {
        GameObject go = new GameObject("Avatar");
        MeshFilter filter = go.AddComponent<MeshFilter>();
        filter.sharedMesh = MakeMesh("Head", 3000);
        SkinnedMeshRenderer other = go.AddComponent<SkinnedMeshRenderer>();
        other.sharedMesh = MakeMesh("OtherTopology", 100);
        MeshFilter bobFilter = go.AddComponent<MeshFilter>();
        bobFilter.sharedMesh = MakeMesh("BobSplit", 4);

        FacewireMeshDeformReceiver a = go.AddComponent<FacewireMeshDeformReceiver>();
        a.port = 0; a.subjectName = "Ada"; a.meshFilter = filter;
        a.enabled = true;
        Call(a, "OnEnable");
        int port = a.Listener.Port;
        FacewireMeshDeformReceiver b = go.AddComponent<FacewireMeshDeformReceiver>();
        b.port = port; b.subjectName = "Ada"; b.skinnedMesh = other;
        Call(b, "OnEnable");
        FacewireMeshDeformReceiver c = go.AddComponent<FacewireMeshDeformReceiver>();
        c.port = port; c.subjectName = "Bob"; c.meshFilter = bobFilter; c.flipX = false; c.gain = 2f;
        c.vertexMap = new[] { 2, 2, 0, 1 };
        Call(c, "OnEnable");
        if (a.Listener != b.Listener || a.Listener != c.Listener) { Console.WriteLine("FAIL listeners not shared"); return 2; }
        Console.WriteLine("READY " + port);
        Console.Out.Flush();

        if (!WaitFor(a.Listener, "Ada", 1) || !WaitFor(a.Listener, "Bob", 0)) return 3;
        FacewireMeshDeformReceiver[] all = { a, b, c };
        foreach (FacewireMeshDeformReceiver r in all) Call(r, "LateUpdate");
        Print("Head", filter.sharedMesh, 0, 1, 1499, 2999);
        Print("Bob", bobFilter.sharedMesh, 0, 1, 2, 3);
        Console.WriteLine("NORMALS " + filter.sharedMesh.RecalculateNormalsCalls);
        Console.WriteLine("NEXT");
        Console.Out.Flush();

        if (!WaitFor(a.Listener, "Ada", 2)) return 3;
        foreach (FacewireMeshDeformReceiver r in all) Call(r, "LateUpdate");
        Call(a, "LateUpdate"); // nothing new: must not count
        Print("Head2", filter.sharedMesh, 0, 2999);
        Console.WriteLine("APPLIED " + a.FramesApplied + " " + b.FramesApplied + " " + c.FramesApplied);
        Console.WriteLine("SKIPPED " + a.FramesSkipped + " " + b.FramesSkipped + " " + c.FramesSkipped);
        Console.WriteLine("LASTERROR " + b.LastError);
        Console.WriteLine("PACKETS " + a.Listener.PacketsReceived + " " + a.Listener.PacketsRejected);
        Console.WriteLine("FRAMES " + a.Listener.FramesCompleted + " " + a.Listener.FramesDropped);
        foreach (FacewireMeshDeformReceiver r in all) Call(r, "OnDisable");
        Print("Restored", filter.sharedMesh, 2999);
        Console.WriteLine("DONE");
        return 0;
    }
}
