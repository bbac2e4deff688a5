"""The 25 predefined abilities of NIRT-Router (IRT-Router appendix C.1).

Each NIRT dimension is one of these abilities. The names are the paper's; the descriptions are
ours, written so that the offline labeller (embedding similarity between a query and each
description) has more to go on than a two-word name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ability:
    name: str
    description: str


ABILITIES: tuple[Ability, ...] = (
    Ability(
        "Reasoning", "Logical, multi-step reasoning: deduce an answer from premises, solve puzzles and logic grids."
    ),
    Ability("Understanding", "Understand what a passage or question means; reading comprehension of a given text."),
    Ability("Generation", "Write new text: compose sentences, stories, answers or descriptions from a prompt."),
    Ability(
        "Information retrieval",
        "Find and recall a specific fact, name, date or entity, as in open-domain trivia questions.",
    ),
    Ability(
        "Multidisciplinary knowledge",
        "Exam questions across many academic subjects: history, law, medicine, economics, philosophy.",
    ),
    Ability(
        "Emotion understanding and expression", "Recognise feelings and intentions of people; respond with empathy."
    ),
    Ability("Adaptability and robustness", "Handle unusual, ambiguous or adversarial instructions and noisy input."),
    Ability("Interactivity", "Hold a conversation, follow up on earlier turns, act as an assistant in dialogue."),
    Ability(
        "Ethical and moral consideration",
        "Judge whether an action is right or wrong; moral scenarios, safety and fairness.",
    ),
    Ability(
        "Mathematical calculation",
        "Arithmetic and algebra: compute numbers, solve equations and math word problems step by step.",
    ),
    Ability("Data analysis", "Read tables, statistics and numeric data; compute and interpret quantities from data."),
    Ability(
        "Symbolic processing", "Manipulate symbols, formulas, notation and formal expressions; LaTeX and equations."
    ),
    Ability("Geometric and spatial reasoning", "Shapes, angles, areas, coordinates and positions of objects in space."),
    Ability(
        "Programming and algorithms", "Write, complete or debug code; Python functions, algorithms and data structures."
    ),
    Ability(
        "Scientific knowledge application", "Apply physics, chemistry, biology or earth science to explain phenomena."
    ),
    Ability(
        "Technical documentation understanding", "Read specifications, API documentation, manuals and technical text."
    ),
    Ability("Current affairs and common knowledge", "Everyday common sense and general knowledge about the world."),
    Ability(
        "Cultural understanding",
        "Customs, literature, arts, history and languages of different cultures, including Chinese culture.",
    ),
    Ability(
        "Language conversion", "Translate between languages and answer questions posed in languages other than English."
    ),
    Ability("Music and art understanding", "Music, painting, film and other arts: styles, works and artists."),
    Ability("Editing and proofreading", "Correct grammar, rewrite, paraphrase or improve a piece of text."),
    Ability(
        "Prediction and hypothesis testing",
        "Predict outcomes, form and test hypotheses, reason about cause and effect.",
    ),
    Ability(
        "Inference",
        "Draw implicit conclusions: fill in the blank, resolve pronouns, choose the most plausible continuation.",
    ),
    Ability(
        "Decision support", "Weigh options and recommend a choice; answer multiple-choice questions by elimination."
    ),
    Ability("Content summarization", "Condense a passage into its main points; write a summary or a title."),
)

ABILITY_NAMES: tuple[str, ...] = tuple(a.name for a in ABILITIES)
