// Sample: drop this on your avatar's root, press Play, and run
//   facewire launch live --arg engine=unity   (or point the iPhone Live Link Face app at this PC)
// It finds every SkinnedMeshRenderer with blend shapes under the object, adds a
// FacewireLiveLinkReceiver driving them, and shows what arrives in the Game view.
using Facewire.LiveLink;
using UnityEngine;

namespace Facewire.LiveLink.Samples
{
    [AddComponentMenu("Facewire/Samples/Facewire Sample Setup")]
    public class FacewireSampleSetup : MonoBehaviour
    {
        [Tooltip("UDP port the sender targets (facewire and the Live Link Face app default to 11111).")]
        public int port = 11111;
        [Tooltip("Subject to follow; empty follows whichever subject sent last.")]
        public string subjectName = "";
        [Tooltip("Show subject, frame and packet counters in the Game view.")]
        public bool showStatus = true;

        FacewireLiveLinkReceiver receiver;

        void Awake()
        {
            receiver = GetComponent<FacewireLiveLinkReceiver>();
            if (receiver == null) receiver = gameObject.AddComponent<FacewireLiveLinkReceiver>();
            // Configure while disabled; enabling runs OnEnable, which opens the port and builds the mapping.
            receiver.enabled = false;
            receiver.port = port;
            receiver.subjectName = subjectName;
            receiver.logMapping = true;
            System.Collections.Generic.List<SkinnedMeshRenderer> found = new System.Collections.Generic.List<SkinnedMeshRenderer>();
            foreach (SkinnedMeshRenderer r in GetComponentsInChildren<SkinnedMeshRenderer>(true))
            {
                if (r.sharedMesh != null && r.sharedMesh.blendShapeCount > 0) found.Add(r);
            }
            receiver.targets = found.ToArray();
            if (found.Count == 0) Debug.LogWarning("[Facewire] no SkinnedMeshRenderer with blend shapes under " + name);
            receiver.enabled = true;
        }

        void OnGUI()
        {
            if (!showStatus || receiver == null || receiver.Listener == null) return;
            LiveLinkFaceListener l = receiver.Listener;
            string text = "Facewire Live Link on UDP " + l.Port + "\nsubjects: " + string.Join(", ", l.Subjects)
                + "\npackets: " + l.PacketsReceived + " accepted, " + l.PacketsRejected + " refused";
            if (receiver.HasFrame)
            {
                LiveLinkFaceFrame f = receiver.CurrentFrame;
                text += "\n" + f.Subject + " frame " + f.FrameNumber + " @ " + f.RateNumerator + "/" + f.RateDenominator
                    + " fps, jawOpen " + f.Values[17].ToString("0.00");
            }
            GUI.Label(new Rect(10, 10, 520, 90), text);
        }
    }
}
