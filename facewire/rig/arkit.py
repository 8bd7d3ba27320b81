"""ARKit blendshape vocabulary: the internal curve names and their conventions.

facewire's internal order is Apple's 52 names in camelCase, sorted alphabetically
(the order of ``ict_facekit.npz``). Left/Right are the subject's own. Bridges convert
to their targets' orders and spellings from here, never by position elsewhere.
"""

from __future__ import annotations

ARKIT_52: tuple[str, ...] = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight",
    "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight",
    "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight",
    "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward",
    "jawLeft", "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight",
    "mouthFrownLeft", "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft",
    "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight", "tongueOut",
)

ARKIT_INDEX: dict[str, int] = {name: i for i, name in enumerate(ARKIT_52)}

# Name sets travel as a schema id in Blendshapes messages instead of per-frame names.
NAME_SETS: dict[str, tuple[str, ...]] = {"arkit52": ARKIT_52}

# Unreal's EARFaceBlendShape order as sent in Live Link Face UDP packets (version 6):
# the 52 shapes, then head and eye rotations (degrees / 180).
LIVELINK_61: tuple[str, ...] = (
    "EyeBlinkLeft", "EyeLookDownLeft", "EyeLookInLeft", "EyeLookOutLeft", "EyeLookUpLeft",
    "EyeSquintLeft", "EyeWideLeft", "EyeBlinkRight", "EyeLookDownRight", "EyeLookInRight",
    "EyeLookOutRight", "EyeLookUpRight", "EyeSquintRight", "EyeWideRight", "JawForward",
    "JawLeft", "JawRight", "JawOpen", "MouthClose", "MouthFunnel", "MouthPucker", "MouthLeft",
    "MouthRight", "MouthSmileLeft", "MouthSmileRight", "MouthFrownLeft", "MouthFrownRight",
    "MouthDimpleLeft", "MouthDimpleRight", "MouthStretchLeft", "MouthStretchRight",
    "MouthRollLower", "MouthRollUpper", "MouthShrugLower", "MouthShrugUpper", "MouthPressLeft",
    "MouthPressRight", "MouthLowerDownLeft", "MouthLowerDownRight", "MouthUpperUpLeft",
    "MouthUpperUpRight", "BrowDownLeft", "BrowDownRight", "BrowInnerUp", "BrowOuterUpLeft",
    "BrowOuterUpRight", "CheekPuff", "CheekSquintLeft", "CheekSquintRight", "NoseSneerLeft",
    "NoseSneerRight", "TongueOut", "HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw",
    "LeftEyePitch", "LeftEyeRoll", "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
)


def pascal_case(name: str) -> str:
    """``jawOpen`` -> ``JawOpen`` (Unreal's and the Live Link Face CSV's spelling)."""
    return name[:1].upper() + name[1:]


def camel_case(name: str) -> str:
    """``JawOpen`` -> ``jawOpen`` (ARKit's spelling)."""
    return name[:1].lower() + name[1:]


def mirror_name(name: str) -> str:
    """Swap Left and Right in a curve name (``mouthSmileLeft`` <-> ``mouthSmileRight``)."""
    if name.endswith("Left"):
        return name[: -len("Left")] + "Right"
    if name.endswith("Right"):
        return name[: -len("Right")] + "Left"
    return name


# Curves of the lower face (mouth, jaw, cheeks): the ones speech drives.
LOWER_FACE: tuple[str, ...] = tuple(
    n for n in ARKIT_52 if n.startswith(("jaw", "mouth", "cheek", "tongue"))
)
UPPER_FACE: tuple[str, ...] = tuple(n for n in ARKIT_52 if n not in LOWER_FACE)
