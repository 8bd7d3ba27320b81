// Applies facewire's dense mesh stream (MeshDeform: per-vertex displacements from the rig's
// neutral) to a mesh of the same topology, for characters without blend shapes. The mesh's
// vertices at OnEnable are the neutral; each new complete frame sets
// vertex = neutral + displacement * metresPerUnit * gain (x negated when flipX is on, the
// usual right-handed to Unity conversion), then recomputes normals and bounds.
using UnityEngine;

namespace Facewire.LiveLink
{
    [AddComponentMenu("Facewire/Mesh Deform Receiver")]
    public class FacewireMeshDeformReceiver : MonoBehaviour
    {
        [Tooltip("UDP port of the mesh stream (facewire's bridge_unity_mesh node; default 11112).")]
        public int port = 11112;
        [Tooltip("Subject to follow. Empty: whichever subject completed a frame last.")]
        public string subjectName = "";
        [Tooltip("Mesh to deform (a MeshFilter's mesh); or set Skinned Mesh below.")]
        public MeshFilter meshFilter;
        [Tooltip("Or the SkinnedMeshRenderer whose shared mesh is deformed.")]
        public SkinnedMeshRenderer skinnedMesh;
        [Tooltip("Negate x: facewire rigs are right-handed (y up), Unity is left-handed.")]
        public bool flipX = true;
        [Tooltip("Multiplier after the stream's unit conversion to metres (e.g. 100 when the mesh's local units are centimetres).")]
        public float gain = 1f;
        [Tooltip("Optional: for each mesh vertex, the stream vertex it follows (for meshes whose vertices were split at UV seams on import). Empty: the same order and count.")]
        public int[] vertexMap = new int[0];

        public MeshDeformListener Listener { get { return listener; } }
        /// <summary>Frames applied, and frames skipped because they do not fit the mesh.</summary>
        public long FramesApplied { get; private set; }
        public long FramesSkipped { get; private set; }
        /// <summary>Why the last frame was skipped (empty when it was applied).</summary>
        public string LastError { get; private set; }

        MeshDeformListener listener;
        readonly MeshDeformFrame frame = new MeshDeformFrame();
        Mesh mesh;
        Vector3[] neutral = new Vector3[0];
        Vector3[] work = new Vector3[0];
        int warnedCount = -1;

        void OnEnable()
        {
            mesh = meshFilter != null ? meshFilter.mesh : (skinnedMesh != null ? skinnedMesh.sharedMesh : null);
            if (mesh == null)
            {
                Debug.LogError("[Facewire] Mesh Deform Receiver on " + name + ": set Mesh Filter or Skinned Mesh");
                enabled = false;
                return;
            }
            neutral = mesh.vertices;
            work = new Vector3[neutral.Length];
            LastError = "";
            listener = MeshDeformListener.Acquire(port);
        }

        void OnDisable()
        {
            if (mesh != null && neutral.Length > 0) mesh.vertices = neutral;
            if (listener != null) listener.Release();
            listener = null;
        }

        /// <summary>Why a frame of <paramref name="streamVertices"/> vertices cannot drive this mesh (null when it can).</summary>
        public string Mismatch(int streamVertices)
        {
            bool mapped = vertexMap != null && vertexMap.Length > 0;
            if (!mapped)
            {
                if (streamVertices == neutral.Length) return null;
                return "MeshDeform has " + streamVertices + " vertices, mesh " + mesh.name + " has " + neutral.Length
                    + "; use the mesh of the rig the deformation was made for (or a Vertex Map)";
            }
            if (vertexMap.Length != neutral.Length)
                return "Vertex Map has " + vertexMap.Length + " entries, mesh " + mesh.name + " has " + neutral.Length + " vertices";
            foreach (int s in vertexMap)
            {
                if (s < 0 || s >= streamVertices)
                    return "Vertex Map refers to stream vertex " + s + ", but MeshDeform has " + streamVertices + " vertices";
            }
            return null;
        }

        void LateUpdate()
        {
            if (listener == null || !listener.TryGetLatest(subjectName, frame)) return;
            string problem = Mismatch(frame.VertexCount);
            if (problem != null)
            {
                FramesSkipped++;
                LastError = problem;
                if (warnedCount != frame.VertexCount)
                {
                    warnedCount = frame.VertexCount;
                    Debug.LogError("[Facewire] " + problem + "; frames are skipped until it fits (logged once)");
                }
                return;
            }
            LastError = "";
            bool mapped = vertexMap != null && vertexMap.Length > 0;
            float s = frame.MetresPerUnit * gain;
            float sx = flipX ? -s : s;
            float[] d = frame.Displacements;
            for (int i = 0; i < neutral.Length; i++)
            {
                int k = 3 * (mapped ? vertexMap[i] : i);
                Vector3 n = neutral[i];
                work[i] = new Vector3(n.x + d[k] * sx, n.y + d[k + 1] * s, n.z + d[k + 2] * s);
            }
            mesh.vertices = work;
            mesh.RecalculateNormals();
            mesh.RecalculateBounds();
            FramesApplied++;
        }
    }
}
