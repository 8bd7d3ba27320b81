// Drives SkinnedMeshRenderer blend shapes from Live Link Face packets (facewire's Python bridge
// or the iPhone Live Link Face app; both send the same version-6 UDP packets).
using System;
using System.Collections.Generic;
using System.Net.Sockets;
using System.Text;
using UnityEngine;

namespace Facewire.LiveLink
{
    [AddComponentMenu("Facewire/Live Link Face Receiver")]
    public class FacewireLiveLinkReceiver : MonoBehaviour
    {
        [Tooltip("UDP port. 11111 is what the Live Link Face app and Unreal use.")]
        public int port = 11111;
        [Tooltip("Live Link subject to follow. Empty: whichever subject sent last.")]
        public string subjectName = "";
        [Tooltip("Renderers whose blend shapes are driven (face, teeth, tongue, eyelashes...).")]
        public SkinnedMeshRenderer[] targets = new SkinnedMeshRenderer[0];
        [Tooltip("Optional explicit mapping and per-shape gains; unmapped curves match by name.")]
        public FacewireBlendShapeProfile profile;
        [Tooltip("Match curves to mesh shapes by name, ignoring case, prefixes such as blendShape1. and separators.")]
        public bool autoMatch = true;
        [Tooltip("Multiplier on every curve.")]
        public float globalGain = 1f;
        [Tooltip("Clamp applied weights to 0..maxWeight.")]
        public bool clampWeights = true;
        [Tooltip("Upper clamp; Unity's blend shape weights run 0-100.")]
        public float maxWeight = 100f;
        [Tooltip("Swap Left and Right curves (for rigs authored against the other convention).")]
        public bool mirror = false;
        [Tooltip("Relax all driven shapes to 0 when no packet arrived for this many seconds (0: hold the last frame).")]
        public float resetAfterSeconds = 0.5f;
        [Tooltip("Log the curve -> blend shape mapping when it is built.")]
        public bool logMapping = false;

        /// <summary>The frame applied last (wire order values, see LiveLinkFacePacket.Names).</summary>
        public LiveLinkFaceFrame CurrentFrame { get { return frame; } }
        public LiveLinkFaceListener Listener { get { return listener; } }
        public bool HasFrame { get { return hasFrame; } }

        sealed class Binding
        {
            public SkinnedMeshRenderer renderer;
            public Mesh mesh;
            public readonly int[] shapeIndex = new int[LiveLinkFaceFrame.ShapeCount];
            public readonly float[] gain = new float[LiveLinkFaceFrame.ShapeCount];
            public int matched;
        }

        static readonly int[] MirrorIndex = BuildMirrorIndex();

        readonly LiveLinkFaceFrame frame = new LiveLinkFaceFrame();
        readonly List<Binding> bindings = new List<Binding>();
        LiveLinkFaceListener listener;
        bool hasFrame;
        bool relaxed;

        void OnEnable()
        {
            try
            {
                listener = LiveLinkFaceListener.Acquire(port);
            }
            catch (SocketException e)
            {
                Debug.LogError("[Facewire] cannot listen on UDP " + port + " (" + e.Message
                    + "). Is Unreal or another app already bound to it? Pick another port here and in the sender.");
                enabled = false;
                return;
            }
            RebuildMapping();
        }

        void OnDisable()
        {
            if (listener != null) listener.Release();
            listener = null;
            hasFrame = false;
        }

        void LateUpdate()
        {
            if (listener == null) return;
            if (listener.TryGetLatest(subjectName, frame))
            {
                hasFrame = true;
                if (resetAfterSeconds > 0f && listener.Now - frame.ReceivedAt > resetAfterSeconds)
                {
                    if (!relaxed) Relax();
                    return;
                }
                relaxed = false;
                Apply(frame);
            }
        }

        /// <summary>Rebuild the curve -> blend shape tables (call after changing targets or profile).</summary>
        public void RebuildMapping()
        {
            bindings.Clear();
            if (targets == null) return;
            foreach (SkinnedMeshRenderer r in targets)
            {
                if (r == null || r.sharedMesh == null) continue;
                bindings.Add(Bind(r));
            }
        }

        Binding Bind(SkinnedMeshRenderer r)
        {
            Binding b = new Binding { renderer = r, mesh = r.sharedMesh };
            Mesh mesh = r.sharedMesh;
            Dictionary<string, int> byKey = new Dictionary<string, int>();
            for (int i = 0; i < mesh.blendShapeCount; i++)
            {
                string key = BlendShapeNameMatcher.Normalize(mesh.GetBlendShapeName(i));
                if (!byKey.ContainsKey(key)) byKey[key] = i;
            }
            StringBuilder report = logMapping ? new StringBuilder() : null;
            for (int k = 0; k < LiveLinkFaceFrame.ShapeCount; k++)
            {
                string curve = LiveLinkFacePacket.Names[k];
                BlendShapeMapping entry = profile != null ? profile.Find(curve) : null;
                b.gain[k] = entry != null ? entry.gain : (profile != null ? profile.defaultGain : 1f);
                b.shapeIndex[k] = -1;
                if (entry != null && !entry.enabled) continue;
                if (entry != null && !string.IsNullOrEmpty(entry.blendShapeName))
                {
                    int exact = mesh.GetBlendShapeIndex(entry.blendShapeName);
                    int found;
                    if (exact < 0 && byKey.TryGetValue(BlendShapeNameMatcher.Normalize(entry.blendShapeName), out found)) exact = found;
                    if (exact < 0)
                    {
                        Debug.LogWarning("[Facewire] " + r.name + ": profile maps " + curve + " to '"
                            + entry.blendShapeName + "', which the mesh does not have");
                    }
                    b.shapeIndex[k] = exact;
                }
                else if (autoMatch)
                {
                    int found;
                    if (byKey.TryGetValue(BlendShapeNameMatcher.Normalize(curve), out found)) b.shapeIndex[k] = found;
                }
                if (b.shapeIndex[k] >= 0)
                {
                    b.matched++;
                    if (report != null) report.Append("\n  ").Append(curve).Append(" -> ").Append(mesh.GetBlendShapeName(b.shapeIndex[k]));
                }
            }
            if (report != null || b.matched == 0)
            {
                string msg = "[Facewire] " + r.name + ": " + b.matched + " of 52 ARKit curves mapped";
                if (b.matched == 0) Debug.LogWarning(msg + "; check the mesh's blend shape names or add a profile");
                else Debug.Log(msg + report);
            }
            return b;
        }

        /// <summary>Apply one frame's 52 shape values to every target.</summary>
        public void Apply(LiveLinkFaceFrame f)
        {
            for (int t = 0; t < bindings.Count; t++)
            {
                Binding b = bindings[t];
                if (b.renderer == null) continue;
                if (b.renderer.sharedMesh != b.mesh) bindings[t] = b = Bind(b.renderer);
                for (int k = 0; k < LiveLinkFaceFrame.ShapeCount; k++)
                {
                    int index = b.shapeIndex[k];
                    if (index < 0) continue;
                    float v = f.Values[mirror ? MirrorIndex[k] : k];
                    if (float.IsNaN(v) || float.IsInfinity(v)) v = 0f;
                    float w = v * b.gain[k] * globalGain * 100f;
                    if (clampWeights) w = Mathf.Clamp(w, 0f, maxWeight);
                    b.renderer.SetBlendShapeWeight(index, w);
                }
            }
        }

        /// <summary>Set every driven shape to 0 (the stream stopped).</summary>
        public void Relax()
        {
            foreach (Binding b in bindings)
            {
                if (b.renderer == null) continue;
                for (int k = 0; k < LiveLinkFaceFrame.ShapeCount; k++)
                {
                    if (b.shapeIndex[k] >= 0) b.renderer.SetBlendShapeWeight(b.shapeIndex[k], 0f);
                }
            }
            relaxed = true;
        }

        /// <summary>Head and eye rotations of the current frame in degrees: head yaw, pitch, roll,
        /// left eye yaw, pitch, roll, right eye yaw, pitch, roll.</summary>
        public float GetRotationDegrees(int i)
        {
            if (i < 0 || i >= 9) throw new ArgumentOutOfRangeException("i");
            return frame.Values[LiveLinkFaceFrame.ShapeCount + i] * 180f;
        }

        static int[] BuildMirrorIndex()
        {
            int[] m = new int[LiveLinkFaceFrame.ShapeCount];
            for (int k = 0; k < m.Length; k++)
            {
                string n = LiveLinkFacePacket.Names[k];
                string other = n.EndsWith("Left") ? n.Substring(0, n.Length - 4) + "Right"
                    : n.EndsWith("Right") ? n.Substring(0, n.Length - 5) + "Left" : n;
                m[k] = LiveLinkFacePacket.IndexOf(other);
            }
            return m;
        }
    }
}
