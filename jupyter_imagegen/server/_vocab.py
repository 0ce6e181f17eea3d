"""The words the offline renderer understands: a small, documented vocabulary.

The offline server stands in for real models in a classroom, so a prompt must visibly steer the
picture: students change one word and see what changed. The vocabulary is kept small and printed
by :func:`vocabulary` (a notebook shows it), so "why did it ignore *giraffe*?" has an answer
a student can look up. Words outside it are written on the picture (the caption) and otherwise
ignored, the way a real model ignores what it cannot draw.
"""

from __future__ import annotations

__all__ = ["ANIMALS", "COLOURS", "MOODS", "NUMBERS", "OBJECTS", "SHAPES", "STYLE_WORDS", "TIMES",
           "vocabulary"]

RGB = tuple[int, int, int]

COLOURS: dict[str, RGB] = {
    "red": (220, 40, 40), "orange": (245, 140, 30), "yellow": (245, 215, 50),
    "gold": (212, 175, 55), "green": (50, 170, 70), "lime": (160, 220, 50),
    "teal": (30, 140, 140), "cyan": (40, 200, 220), "blue": (40, 90, 220),
    "navy": (20, 30, 100), "purple": (130, 60, 180), "violet": (150, 90, 220),
    "pink": (240, 120, 180), "magenta": (220, 40, 180), "brown": (130, 80, 40),
    "black": (15, 15, 20), "white": (245, 245, 245), "gray": (128, 128, 128),
    "grey": (128, 128, 128), "silver": (190, 195, 200),
}
#: Abstract shape words (with plurals) mapped to the shape drawn; scenes keep their own layout.
SHAPES: dict[str, str] = {
    "circle": "circle", "circles": "circle", "ball": "circle", "balls": "circle",
    "dot": "circle", "dots": "circle", "square": "square", "squares": "square",
    "box": "square", "boxes": "square", "triangle": "triangle", "triangles": "triangle",
    "wave": "wave", "waves": "wave", "sea": "wave", "ocean": "wave", "grid": "grid",
    "checkerboard": "grid",
}
#: Animal words (and a few synonyms) mapped to the figure drawn.
ANIMALS: dict[str, str] = {
    "fox": "fox", "foxes": "fox", "cat": "cat", "cats": "cat", "kitten": "cat",
    "kittens": "cat", "dog": "dog", "dogs": "dog", "puppy": "dog", "puppies": "dog",
    "bird": "bird", "birds": "bird", "fish": "fish", "fishes": "fish",
}
#: Object words (and synonyms) mapped to the figure drawn.
OBJECTS: dict[str, str] = {
    "lighthouse": "lighthouse", "lighthouses": "lighthouse", "house": "house",
    "houses": "house", "cottage": "house", "tree": "tree", "trees": "tree", "forest": "tree",
    "boat": "boat", "boats": "boat", "ship": "boat", "sailboat": "boat", "car": "car",
    "cars": "car", "moon": "moon", "moons": "moon", "sun": "sun", "suns": "sun",
    "mountain": "mountain", "mountains": "mountain", "hill": "mountain", "hills": "mountain",
    "flower": "flower", "flowers": "flower", "hat": "hat", "hats": "hat", "star": "star",
    "stars": "star", "cloud": "cloud", "clouds": "cloud",
}
#: Words for the time of day, mapped to the light the scene is drawn in.
TIMES: dict[str, str] = {
    "dawn": "dawn", "sunrise": "dawn", "morning": "dawn", "day": "day", "daytime": "day",
    "noon": "day", "afternoon": "day", "daylight": "day", "dusk": "dusk", "sunset": "dusk",
    "evening": "dusk", "twilight": "dusk", "night": "night", "midnight": "night",
    "nighttime": "night", "dark": "night",
}
#: Mood words: a whole-picture treatment (colour, light, weather).
MOODS: dict[str, str] = {
    "calm": "calm", "peaceful": "calm", "quiet": "calm", "serene": "calm",
    "stormy": "stormy", "storm": "stormy", "rainy": "stormy", "rain": "stormy",
    "cheerful": "cheerful", "happy": "cheerful", "bright": "cheerful", "sunny": "cheerful",
    "gloomy": "gloomy", "sad": "gloomy", "moody": "gloomy", "dreamy": "dreamy",
    "magical": "dreamy", "misty": "dreamy", "foggy": "dreamy",
}
#: Style words: they override the model's own drawing style, as "in watercolour" would.
STYLE_WORDS: dict[str, str] = {
    "photo": "photo", "photograph": "photo", "photographic": "photo", "realistic": "photo",
    "poster": "poster", "flat": "poster", "vector": "poster", "sketch": "sketch",
    "pencil": "sketch", "drawing": "sketch", "painting": "painterly", "painted": "painterly",
    "painterly": "painterly", "watercolour": "painterly", "watercolor": "painterly",
    "oil": "painterly",
}
NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
           "seven": 7, "eight": 8, "nine": 9, "ten": 10, "several": 3, "many": 6, "some": 3}


def vocabulary() -> dict[str, list[str]]:
    """Every word the offline renderer draws, by kind (the rest is only written as a caption).

    Shown in the teaching notebook, so students can predict what a prompt will draw offline and
    see that a real model understands far more.
    """
    return {
        "animals": sorted(ANIMALS), "objects": sorted(OBJECTS), "shapes": sorted(SHAPES),
        "colours": sorted(COLOURS), "times of day": sorted(TIMES), "moods": sorted(MOODS),
        "styles": sorted(STYLE_WORDS), "numbers": [w for w in NUMBERS if w not in ("a", "an")],
    }
