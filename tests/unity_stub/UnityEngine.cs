// A minimal stand-in for the parts of the UnityEngine API the facewire package uses, so the
// Runtime C# compiles with Debian's mono (mcs) and can be exercised by Harness.cs. Behaviour
// follows Unity's documented semantics where the tests depend on it (blend shape lookup by
// exact name, weights stored as given); nothing else is emulated.
using System;
using System.Collections.Generic;

namespace UnityEngine
{
    public class Object
    {
        public string name = "";
        public static bool operator ==(Object a, Object b) { return ReferenceEquals(a, b); }
        public static bool operator !=(Object a, Object b) { return !ReferenceEquals(a, b); }
        public override bool Equals(object o) { return ReferenceEquals(this, o); }
        public override int GetHashCode() { return base.GetHashCode(); }
    }

    public class GameObject : Object
    {
        readonly List<Component> components = new List<Component>();
        public GameObject(string name) { this.name = name; }
        public T AddComponent<T>() where T : Component, new()
        {
            T c = new T();
            c.gameObject = this;
            c.name = name;
            components.Add(c);
            return c;
        }
        public T GetComponent<T>() where T : Component
        {
            foreach (Component c in components) if (c is T) return (T)c;
            return null;
        }
        public T[] GetComponentsInChildren<T>() where T : Component
        {
            List<T> found = new List<T>();
            foreach (Component c in components) if (c is T) found.Add((T)c);
            return found.ToArray();
        }
    }

    public class Component : Object
    {
        public GameObject gameObject;
        public T GetComponent<T>() where T : Component { return gameObject.GetComponent<T>(); }
        public T[] GetComponentsInChildren<T>(bool includeInactive = false) where T : Component
        {
            return gameObject.GetComponentsInChildren<T>();
        }
    }

    public class Behaviour : Component
    {
        public bool enabled = true;
    }

    public class MonoBehaviour : Behaviour { }

    public class ScriptableObject : Object
    {
        public static T CreateInstance<T>() where T : ScriptableObject, new() { return new T(); }
    }

    public class Mesh : Object
    {
        readonly List<string> shapes = new List<string>();
        public Mesh(params string[] blendShapeNames) { shapes.AddRange(blendShapeNames); }
        public int blendShapeCount { get { return shapes.Count; } }
        public string GetBlendShapeName(int index)
        {
            if (index < 0 || index >= shapes.Count) throw new ArgumentOutOfRangeException("index");
            return shapes[index];
        }
        public int GetBlendShapeIndex(string blendShapeName) { return shapes.IndexOf(blendShapeName); }
        // vertices: Unity's getter and setter copy the array
        Vector3[] verts = new Vector3[0];
        public int RecalculateNormalsCalls;
        public Vector3[] vertices
        {
            get { return (Vector3[])verts.Clone(); }
            set { verts = (Vector3[])value.Clone(); }
        }
        public int vertexCount { get { return verts.Length; } }
        public void RecalculateNormals() { RecalculateNormalsCalls++; }
        public void RecalculateBounds() { }
    }

    public struct Vector3
    {
        public float x, y, z;
        public Vector3(float x, float y, float z) { this.x = x; this.y = y; this.z = z; }
    }

    public class MeshFilter : Component
    {
        public Mesh sharedMesh;
        public Mesh mesh { get { return sharedMesh; } set { sharedMesh = value; } }
    }

    public class Renderer : Component { }

    public class SkinnedMeshRenderer : Renderer
    {
        Mesh mesh;
        float[] weights = new float[0];
        public int SetCalls;
        public Mesh sharedMesh
        {
            get { return mesh; }
            set { mesh = value; weights = new float[value == null ? 0 : value.blendShapeCount]; }
        }
        public float GetBlendShapeWeight(int index) { return weights[index]; }
        public void SetBlendShapeWeight(int index, float value)
        {
            if (index < 0 || index >= weights.Length) throw new ArgumentOutOfRangeException("index");
            weights[index] = value;
            SetCalls++;
        }
    }

    public static class Mathf
    {
        public static float Clamp(float v, float min, float max) { return v < min ? min : (v > max ? max : v); }
        public static float Clamp01(float v) { return Clamp(v, 0f, 1f); }
        public static float Max(float a, float b) { return a > b ? a : b; }
        public static float Min(float a, float b) { return a < b ? a : b; }
    }

    public static class Debug
    {
        public static readonly List<string> Warnings = new List<string>();
        public static readonly List<string> Errors = new List<string>();
        public static void Log(object message) { Console.WriteLine("LOG " + Flat(message)); }
        public static void LogWarning(object message)
        {
            lock (Warnings) Warnings.Add(Flat(message));
            Console.WriteLine("WARN " + Flat(message));
        }
        public static void LogError(object message)
        {
            lock (Errors) Errors.Add(Flat(message));
            Console.WriteLine("ERROR " + Flat(message));
        }
        static string Flat(object m) { return (m == null ? "null" : m.ToString()).Replace("\n", " | "); }
    }

    public static class Time
    {
        static readonly System.Diagnostics.Stopwatch Clock = System.Diagnostics.Stopwatch.StartNew();
        public static float time { get { return (float)Clock.Elapsed.TotalSeconds; } }
        public static float unscaledTime { get { return time; } }
    }

    public struct Rect
    {
        public float x, y, width, height;
        public Rect(float x, float y, float width, float height) { this.x = x; this.y = y; this.width = width; this.height = height; }
    }

    public static class GUI
    {
        public static void Label(Rect position, string text) { }
    }

    [AttributeUsage(AttributeTargets.Field)] public sealed class SerializeField : Attribute { }
    [AttributeUsage(AttributeTargets.Field)] public sealed class HideInInspector : Attribute { }
    [AttributeUsage(AttributeTargets.Field)] public sealed class TooltipAttribute : Attribute { public TooltipAttribute(string t) { } }
    [AttributeUsage(AttributeTargets.Field)] public sealed class HeaderAttribute : Attribute { public HeaderAttribute(string t) { } }
    [AttributeUsage(AttributeTargets.Field)] public sealed class RangeAttribute : Attribute { public RangeAttribute(float a, float b) { } }
    [AttributeUsage(AttributeTargets.Class)] public sealed class AddComponentMenu : Attribute { public AddComponentMenu(string m) { } }
    [AttributeUsage(AttributeTargets.Class)] public sealed class DisallowMultipleComponent : Attribute { }
    [AttributeUsage(AttributeTargets.Class)]
    public sealed class CreateAssetMenuAttribute : Attribute
    {
        public string fileName;
        public string menuName;
        public int order;
    }
}
