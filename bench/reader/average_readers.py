"""Average the weights of finished MiniLM readers (a soup of readers trained on different numbers of
questions from the same base) and write the compact reader.

    python bench/reader/average_readers.py A/checkpoint.pt B/checkpoint.pt --out DIR
    python bench/reader/average_readers.py qa/reader/weights B/checkpoint.pt --out DIR

Each input is a training checkpoint of a run that finished (float32 weights) or a reader folder
as the product loads it (the shipped int8 weights, dequantised); the recipe of the last one is
copied beside the weights, so `bench/reader/gold_f1.py DIR` reads the same held-out
questions.
"""
import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def main(argv=None) -> int:
    from qa.reader.model import SpanQAModel, load_weights, save_compact
    from qa.training.soup import average_states
    from qa.training.warm_start import WarmStartError, describe

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoints", nargs="+", help="checkpoint.pt of finished trainings, or reader folders")
    ap.add_argument("--out", required=True, help="folder for the averaged reader")
    a = ap.parse_args(argv)
    try:  # describe() reads both kinds of input and refuses an unfinished training
        states = [describe(path).weights() for path in a.checkpoints]
    except WarmStartError as exc:
        print(exc, file=sys.stderr)
        return 2
    model = SpanQAModel.from_config_dir(pretrained=False)
    load_weights(model, average_states(states))
    save_compact(model, a.out)
    last = a.checkpoints[-1]
    recipe_dir = last if os.path.isdir(last) else os.path.dirname(last)
    shutil.copy(os.path.join(recipe_dir, "recipe.json"), os.path.join(a.out, "recipe.json"))
    print(f"averaged {len(states)} readers into {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
