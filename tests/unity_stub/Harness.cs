// Test harness run under mono: builds fake avatars on the UnityEngine stub, enables receiver
// components the way Unity would (OnEnable, then LateUpdate), waits for real Live Link Face
// packets from the Python bridge, applies them once and prints every blend shape weight.
// Usage: mono harness.exe <port> <expected Ada frame number>
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Reflection;
using System.Threading;
using Facewire.LiveLink;
using UnityEngine;

public static class Harness
{
    static readonly List<SkinnedMeshRenderer> Renderers = new List<SkinnedMeshRenderer>();

    static SkinnedMeshRenderer MakeRenderer(GameObject go, string name, params string[] shapes)
    {
        SkinnedMeshRenderer r = go.AddComponent<SkinnedMeshRenderer>();
        r.name = name;
        r.sharedMesh = new Mesh(shapes);
        Renderers.Add(r);
        return r;
    }

    static void Call(object target, string method)
    {
        MethodInfo m = target.GetType().GetMethod(method, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        m.Invoke(target, null);
    }

    public static int Main(string[] args)
    {
        int port = int.Parse(args[0], CultureInfo.InvariantCulture);
        int expectFrame = int.Parse(args[1], CultureInfo.InvariantCulture);
        string[] faceShapes =
        {
            "blendShape1.jawOpen", "MouthSmile_L", "mouthSmileRight", "EyeBlinkLeft", "eye_blink_right",
            "BROWINNERUP", "ARKit_TongueOut", "Lips_Closed", "mouthPucker", "cheekPuff", "mouth_funnel", "Unrelated",
        };
        GameObject go = new GameObject("Avatar");
        SkinnedMeshRenderer face = MakeRenderer(go, "Face", faceShapes);
        SkinnedMeshRenderer teeth = MakeRenderer(go, "Teeth", "blendShape2.JawOpen", "Teeth_Other");
        SkinnedMeshRenderer face2 = MakeRenderer(go, "Face2", faceShapes);
        SkinnedMeshRenderer bobFace = MakeRenderer(go, "BobFace", "jawOpen");
        face.SetBlendShapeWeight(11, 7f);
        face2.SetBlendShapeWeight(11, 7f);

        FacewireBlendShapeProfile profile = ScriptableObject.CreateInstance<FacewireBlendShapeProfile>();
        profile.mappings.Add(new BlendShapeMapping { arkitName = "mouthClose", blendShapeName = "Lips_Closed", gain = 2f });
        profile.mappings.Add(new BlendShapeMapping { arkitName = "MouthPucker", gain = 0.5f });
        profile.mappings.Add(new BlendShapeMapping { arkitName = "cheekPuff", enabled = false });

        FacewireLiveLinkReceiver a = go.AddComponent<FacewireLiveLinkReceiver>();
        a.port = port; a.subjectName = "Ada"; a.targets = new[] { face, teeth }; a.profile = profile;
        FacewireLiveLinkReceiver b = go.AddComponent<FacewireLiveLinkReceiver>();
        b.port = port; b.subjectName = "Ada"; b.targets = new[] { face2 }; b.clampWeights = false;
        b.globalGain = 2.5f; b.mirror = true;
        FacewireLiveLinkReceiver c = go.AddComponent<FacewireLiveLinkReceiver>();
        c.port = port; c.subjectName = "Bob"; c.targets = new[] { bobFace };
        FacewireLiveLinkReceiver[] all = { a, b, c };
        foreach (FacewireLiveLinkReceiver r in all) Call(r, "OnEnable");
        if (a.Listener != b.Listener || a.Listener != c.Listener) { Console.WriteLine("FAIL listeners not shared"); return 2; }
        Console.WriteLine("READY " + a.Listener.Port);
        Console.Out.Flush();

        LiveLinkFaceFrame probe = new LiveLinkFaceFrame();
        DateTime deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            bool ada = a.Listener.TryGetLatest("Ada", probe) && probe.FrameNumber == expectFrame;
            bool bob = a.Listener.TryGetLatest("Bob", new LiveLinkFaceFrame());
            if (ada && bob) break;
            if (DateTime.UtcNow > deadline) { Console.WriteLine("TIMEOUT"); return 3; }
            Thread.Sleep(5);
        }
        foreach (FacewireLiveLinkReceiver r in all) Call(r, "LateUpdate");

        CultureInfo inv = CultureInfo.InvariantCulture;
        LiveLinkFaceFrame f = a.CurrentFrame;
        Console.WriteLine("FRAME " + f.Subject + " " + f.FrameNumber + " " + f.SubFrame.ToString("R", inv) + " "
            + f.RateNumerator + " " + f.RateDenominator + " " + f.DeviceId);
        Console.WriteLine("RECEIVED " + a.Listener.PacketsReceived);
        Console.WriteLine("REJECTED " + a.Listener.PacketsRejected);
        Console.WriteLine("HEADYAW " + a.GetRotationDegrees(0).ToString("R", inv));
        foreach (SkinnedMeshRenderer r in Renderers)
        {
            for (int i = 0; i < r.sharedMesh.blendShapeCount; i++)
            {
                Console.WriteLine("W " + r.name + " " + r.sharedMesh.GetBlendShapeName(i) + " "
                    + r.GetBlendShapeWeight(i).ToString("R", inv));
            }
        }
        foreach (FacewireLiveLinkReceiver r in all) Call(r, "OnDisable");
        Console.WriteLine("DONE");
        return 0;
    }
}
