// A mapping profile: which mesh blend shape each ARKit curve drives, and how strongly.
// Curves not listed (or listed without a mesh name) are matched automatically by name.
using System;
using System.Collections.Generic;
using UnityEngine;

namespace Facewire.LiveLink
{
    [Serializable]
    public class BlendShapeMapping
    {
        [Tooltip("ARKit / Live Link curve, e.g. jawOpen or JawOpen (case-insensitive).")]
        public string arkitName = "";
        [Tooltip("Mesh blend shape to drive. Empty: find it automatically by name.")]
        public string blendShapeName = "";
        [Tooltip("Multiplier on the 0-1 curve before scaling to Unity's 0-100.")]
        public float gain = 1f;
        [Tooltip("Untick to leave this curve off entirely.")]
        public bool enabled = true;
    }

    [CreateAssetMenu(fileName = "FacewireBlendShapeProfile", menuName = "Facewire/Blend Shape Profile")]
    public class FacewireBlendShapeProfile : ScriptableObject
    {
        [Tooltip("Explicit mappings and per-shape gains; everything else is matched automatically.")]
        public List<BlendShapeMapping> mappings = new List<BlendShapeMapping>();
        [Tooltip("Gain for curves with no entry here.")]
        public float defaultGain = 1f;

        /// <summary>The entry for a curve (any spelling), or null.</summary>
        public BlendShapeMapping Find(string curveName)
        {
            string key = BlendShapeNameMatcher.Normalize(curveName);
            foreach (BlendShapeMapping m in mappings)
            {
                if (m != null && BlendShapeNameMatcher.Normalize(m.arkitName) == key) return m;
            }
            return null;
        }
    }
}
