"""Generate the probe corpus: eight long texts of plain English prose about invented places.

Deterministic (seeded); every sentence comes from the templates and word lists below, so the
corpus is original and free of third-party text. Run once; the output is shipped as text files.
"""

import random
import sys
from pathlib import Path

TOPICS = [
    "a river valley",
    "a coastal town",
    "a mountain pass",
    "an old library",
    "a market city",
    "a fishing island",
    "a forest settlement",
    "a desert oasis",
]
PLACES = [
    "Alder Ford",
    "Brindlemoor",
    "Caskwater",
    "Dunmarrow",
    "Eastfold",
    "Fennick Hollow",
    "Greywick",
    "Harrowgate Cross",
    "Ivel Reach",
    "Juniper Down",
    "Kestrel Point",
    "Lowmere",
    "Marlstone",
    "Northbeck",
    "Oakhaven",
    "Pellworth",
    "Quillon",
    "Rookfield",
    "Saltmarsh End",
    "Thornbury",
    "Ulverston Quay",
    "Vellum Hill",
    "Westermoor",
    "Yarrow Bridge",
]
PEOPLE = [
    "a miller",
    "a ferryman",
    "two weavers",
    "the harbour master",
    "a schoolteacher",
    "a clockmaker",
    "the village council",
    "a family of potters",
    "a travelling surveyor",
    "an apprentice smith",
    "the keeper of the lighthouse",
    "a group of shepherds",
    "a retired sea captain",
    "the town archivist",
]
THINGS = [
    "a stone bridge",
    "a granary",
    "a covered market",
    "a water mill",
    "a chapel with a slate roof",
    "a row of timber houses",
    "a signal tower",
    "a walled garden",
    "a toll road",
    "a rope walk",
    "a salt works",
    "a small observatory",
    "a printing shop",
    "a lending library",
    "a dry dock",
]
ADJ = [
    "narrow",
    "broad",
    "quiet",
    "busy",
    "steep",
    "gentle",
    "windswept",
    "sheltered",
    "ancient",
    "modest",
    "crowded",
    "remote",
    "fertile",
    "rocky",
    "misty",
    "sunlit",
    "muddy",
    "orderly",
    "weathered",
    "prosperous",
]
GOODS = [
    "wool",
    "barley",
    "salted fish",
    "timber",
    "copper",
    "honey",
    "linen",
    "cider",
    "slate",
    "dyes",
    "leather",
    "oats",
    "cheese",
    "glass",
    "paper",
    "iron nails",
    "rope",
    "candles",
]
SEASONS = ["spring", "summer", "autumn", "winter"]
VERBS = ["built", "repaired", "extended", "rebuilt", "abandoned", "restored", "enlarged", "surveyed"]
NUMS = ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve", "twenty", "forty"]

TEMPLATES = [
    "{Place} lies on a {adj} stretch of land where the road turns toward {place2}.",
    "In the {century} century {people} {verb} {thing} near the centre of {place}.",
    "Most households kept {num} animals and traded {good} for {good2} at the {season} fair.",
    "The records of {place} mention {thing} that stood for {num} generations before it was {verb}.",
    "Travellers described the approach as {adj} and {adj2}, especially in {season}.",
    "According to the parish rolls, {num} families moved from {place2} to {place} after a poor harvest.",
    "{People_cap} kept careful accounts of {good}, noting prices in a ledger that still survives.",
    "The {adj} harbour could shelter {num} boats, and in bad weather it was often full.",
    "Each {season} the council met to decide how much {good} should be stored against shortage.",
    "A local saying holds that {place} was founded by {people} who followed the river upstream.",
    "Visitors often remarked that the air smelled of {good} and wood smoke.",
    "The road to {place2} was {adj} in places, and carts carrying {good} moved slowly along it.",
    "By the end of the {century} century the town had {num} schools, {thing}, and a weekly newspaper.",
    "{People_cap} argued for years about whether {thing} should be {verb} or left as it was.",
    "When the river flooded in {season}, water reached the steps of {thing}.",
    "Children learned to count by tallying sacks of {good} on the quay.",
    "The oldest map of {place} shows {num} streets, a {adj} square and {thing}.",
    "Few people outside the district had heard of {place} until {people} wrote about it.",
    "Trade with {place2} grew steadily, and {good} became the most valuable export.",
    "In {season} the light over the {adj} hills made the whole valley look {adj2}.",
]
CENTURIES = ["twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth"]


def sentence(rng, place):
    t = rng.choice(TEMPLATES)
    people = rng.choice(PEOPLE)
    fields = dict(
        Place=place,
        place=place,
        place2=rng.choice([p for p in PLACES if p != place]),
        adj=rng.choice(ADJ),
        adj2=rng.choice(ADJ),
        people=people,
        People_cap=people[0].upper() + people[1:],
        verb=rng.choice(VERBS),
        thing=rng.choice(THINGS),
        good=rng.choice(GOODS),
        good2=rng.choice(GOODS),
        season=rng.choice(SEASONS),
        num=rng.choice(NUMS),
        century=rng.choice(CENTURIES),
    )
    return t.format(**fields)


def text(rng, index, words):
    place = PLACES[index * 3 % len(PLACES)]
    title = f"{place}: notes on {TOPICS[index]}"
    paragraphs, count = [], 0
    while count < words:
        para = " ".join(sentence(rng, place) for _ in range(rng.randint(4, 8)))
        paragraphs.append(para)
        count += len(para.split())
    return title + "\n\n" + "\n\n".join(paragraphs) + "\n"


def main(out):
    rng = random.Random(2024)
    out = Path(out)
    for i in range(8):
        (out / f"text_{i}.txt").write_text(text(rng, i, 2200), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
