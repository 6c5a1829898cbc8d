"""Fact extraction rules: first-person statements about the user become slot-keyed facts.

Precision over recall. A sentence is a candidate only if it asserts something (not a question,
a hypothetical, quoted or reported speech, or a past state "I used to …"); then each rule is one
pattern for one slot. A slot key (`user.location`, `user.sister.location`, `user.likes.jazz`)
names what the statement is about, so a later statement on the same slot supersedes an earlier
one. What others do is a fact about the user only through a relationship ("my sister lives in
Rome" is `user.sister.location`); "Anna lives in Rome" yields nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from service.domain.facts import message_source
from service.domain.models import Message
from service.domain.records import RECORD_RULES
from service.domain.slots import Candidate, Rule
from service.domain.slots import rule as _rule
from service.domain.slots import slug as _slug

# A proper name: capitalised words ("Porto", "New York", "São Paulo", "Rio de Janeiro").
_NAME = r"(?-i:[A-Z][\w'-]+(?:\s+(?:(?:de|da|do|del|la|le|van|von|upon|on)\s+)?[A-Z][\w'-]+){0,3})"
# A short lower-case noun phrase (a job, a food, a hobby): up to four words.
_PHRASE = r"[a-z][\w'-]*(?:\s+[a-z][\w'-]*){0,3}"
_ARTICLE = r"(?:a|an)\s+"
_KIN = (
    r"(?P<kin>wife|husband|partner|girlfriend|boyfriend|fianc[ée]e?|sister|brother|mother|mum|mom|"
    r"father|dad|son|daughter|grandmother|grandma|grandfather|grandpa|aunt|uncle|cousin|"
    r"best friend|boss|manager|roommate|flatmate|niece|nephew)"
)
_PET = (
    r"(?P<pet>dog|cat|puppy|kitten|rabbit|hamster|parrot|horse|tortoise|turtle|goldfish|"
    r"lizard|snake)"
)
_UNITS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
          "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
          "nineteen"]  # fmt: skip
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_NUMBER = (
    r"(?:(?:" + "|".join(_TENS) + r")(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?|"
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen)"
)
# Another person of the user's account (a household member, a teammate) is one of the names
# the account's own turns are spoken under; their relationships are the user's to remember
# ("Priya's cousin Ines moved to Lagos", said in a household account where Priya speaks).
# Candidates under MEMBER are kept only for such names (`extract(..., members=)`).
MEMBER = "member"
_FIRST = r"(?-i:[A-Z][\w-]+)"
_MEMBER_KIN = (
    r"(?P<kin>(?:(?:old|childhood|best|older|younger|little|big)\s+)?(?:wife|husband|partner|"
    r"girlfriend|boyfriend|sister|brother|mother|mum|mom|father|dad|son|daughter|grandmother|"
    r"grandma|grandfather|grandpa|aunt|uncle|cousin|niece|nephew|friend|godchild|godson|"
    r"goddaughter|godmother|godfather|roommate|flatmate|colleague|neighbour|neighbor))"
)
# "lives in", "moved to", "ended up in", "has a new address in" (a place follows).
_SETTLED = (
    r"(?:lives\s+in|is\s+(?:living|based|settled)\s+in|(?:has\s+|have\s+)?(?:moved|relocated)\s+"
    r"(?:back\s+)?to|ended\s+up\s+in|has\s+a\s+new\s+address\s+in)"
)
_KIN_CANON = {"mum": "mother", "mom": "mother", "dad": "father", "grandma": "grandmother",
              "grandpa": "grandfather", "fiancé": "fiance", "fiancée": "fiance",
              "fiancee": "fiance", "best friend": "best_friend"}  # fmt: skip
_PET_CANON = {"puppy": "dog", "kitten": "cat"}
_DIETS = r"(?P<diet>vegetarian|vegan|pescatarian|gluten[- ]free|dairy[- ]free|keto|halal|kosher)"

# Words after which the value has ended: "I live in Porto now with my wife".
_TRAILERS = re.compile(
    r"(?:\s+(?:now|these days|nowadays|since|for|with|and|but|because|as|so|too|again|"
    r"anymore|last|this|next|a few|recently|at the moment|right now|lately|actually|though|"
    r"full[- ]time|part[- ]time|by the way|which|who|where|when|after|before|then|instead|"
    r"at|in|on|from|of|near|outside|downtown|years?|months?|weeks?)\b|\s*[,(\u2013\u2014]).*$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ExtractedFact:
    """A fact an extractor found: slot, canonical text, the turns it came from (`message_source`)
    and when it was said (its event time)."""

    key: str
    text: str
    lineage: tuple[str, ...]
    valid_from: datetime


def _clean(value: str) -> str:
    value = _TRAILERS.sub("", value.strip())
    return value.strip(" .,!;:'\"")


def _kin(m: re.Match[str]) -> tuple[str, str]:
    word = m["kin"].lower()
    return _slug(_KIN_CANON.get(word, word)), word


def _simple(
    key: str, template: str, group: str = "value"
) -> Callable[[re.Match[str]], Candidate | None]:
    """A fixed slot whose value is one group; `template` renders the canonical text."""

    def build(m: re.Match[str]) -> Candidate | None:
        value = _clean(m[group])
        return Candidate(key, value, template.format(value=value)) if value else None

    return build


def _number(word: str) -> str:
    """ "34", "thirty-four", "nine" -> the digits ("" when it is no number)."""
    word = word.lower().replace(" ", "-")
    if word.isdigit():
        return word
    tens, _, unit = word.partition("-")
    if tens in _TENS:
        value = 20 + 10 * _TENS.index(tens)
        if unit:
            if unit not in _UNITS[:9]:
                return ""
            value += _UNITS.index(unit) + 1
        return str(value)
    return str(_UNITS.index(word) + 1) if word in _UNITS else ""


def _age(m: re.Match[str]) -> Candidate | None:
    value = _number(m["value"])
    if not value or not 1 <= int(value) <= 120:
        return None
    return Candidate("user.age", value, f"User is {value} years old.")


def _diet(m: re.Match[str]) -> Candidate | None:
    value = m["diet"].lower().replace(" ", "-")
    return Candidate("user.diet", value, f"User is {value}.")


def _no_meat(m: re.Match[str]) -> Candidate | None:
    food = m["food"].lower()
    value = {"meat": "vegetarian", "animal products": "vegan", "fish": "no fish"}.get(food)
    if value is None:
        return None
    return Candidate("user.diet", value, f"User no longer eats {food}.")


def _preference(positive: bool) -> Callable[[re.Match[str]], Candidate | None]:
    def build(m: re.Match[str]) -> Candidate | None:
        value = _clean(m["value"])
        words = value.lower().split()
        if not words or words[0] in _NOT_OBJECTS or "you" in words:
            return None
        verb = "likes" if positive else "dislikes"
        return Candidate(f"user.likes.{_slug(value)}", verb, f"User {verb} {value}.")

    return build


# "I love it", "I like that": the object is elsewhere; "I like to …": an activity, too vague.
_NOT_OBJECTS = frozenset(
    ["it", "that", "this", "them", "him", "her", "you", "to", "the", "a", "an", "what", "how",
     "when", "where", "being", "my", "your", "our", "his", "their"]
)  # fmt: skip


def _favourite(m: re.Match[str]) -> Candidate | None:
    thing, value = _clean(m["thing"]), _clean(m["value"])
    if not thing or not value:
        return None
    return Candidate(
        f"user.favorite.{_slug(thing)}", value, f"User's favourite {thing} is {value}."
    )


def _allergy(m: re.Match[str]) -> Candidate | None:
    value = _clean(m["value"])
    if not value:
        return None
    return Candidate(f"user.allergy.{_slug(value)}", value, f"User is allergic to {value}.")


def _pet_named(m: re.Match[str]) -> Candidate | None:
    pet = _PET_CANON.get(m["pet"].lower(), m["pet"].lower())
    name = _clean(m["value"])
    if not name:
        return None
    return Candidate(f"user.pet.{pet}.name", name, f"User's {pet} is called {name}.")


def _pet_owned(m: re.Match[str]) -> Candidate | None:
    pet = _PET_CANON.get(m["pet"].lower(), m["pet"].lower())
    return Candidate(f"user.pet.{pet}", "yes", f"User has a {pet}.")


def _kin_name(m: re.Match[str]) -> Candidate | None:
    slot, word = _kin(m)
    name = _clean(m["value"])
    if not name:
        return None
    return Candidate(f"user.{slot}.name", name, f"User's {word} is called {name}.")


def _kin_location(m: re.Match[str]) -> Candidate | None:
    slot, word = _kin(m)
    place = _clean(m["value"])
    if not place:
        return None
    return Candidate(f"user.{slot}.location", place, f"User's {word} lives in {place}.")


def _kin_job(m: re.Match[str]) -> Candidate | None:
    slot, word = _kin(m)
    job = _clean(m["value"])
    if not job:
        return None
    return Candidate(f"user.{slot}.job", job, f"User's {word} works as {m['art'] or ''}{job}.")


def _member_kin_location(m: re.Match[str]) -> Candidate | None:
    place, kin = _clean(m["value"]), m["kin"].lower()
    if not place:
        return None
    member, who = m["member"], m["who"]
    return Candidate(
        f"{MEMBER}.{_slug(member)}.{_slug(kin)}.{_slug(who)}.location",
        place,
        f"{member}'s {kin} {who} lives in {place}.",
    )


def _children(m: re.Match[str]) -> Candidate | None:
    count = _number(m["value"])
    if not count:
        return None
    return Candidate("user.children.count", count, f"User has {count} {m['kids'].lower()}.")


def _plan(m: re.Match[str]) -> Candidate | None:
    place, when = _clean(m["value"]), m["when"].strip(" .,!")
    if not place:
        return None
    return Candidate(
        f"user.plan.trip.{_slug(place)}", when, f"User plans to travel to {place} {when}."
    )


def _quit(m: re.Match[str]) -> Candidate | None:
    habit = _clean(m["value"])
    if not habit:
        return None
    return Candidate(f"user.habit.{_slug(habit)}", "stopped", f"User no longer does: {habit}.")


# Sentences are matched with contractions expanded ("I'm" -> "i am", see `_normalize`).
_NOW = r"(?:(?:now|currently|still|actually|finally|just|also)\s+)?"
_WORK = r"i\s+(?:(?:now|currently|still|also)\s+)?(?:work|am\s+(?:now\s+|currently\s+)?working)"
_WHEN = r"(?P<when>(?:on|in|next|this|at the end of|early|late)\s+[\w ,'-]{2,30}?|tomorrow|tonight)"
# Jobs named after "I am a …" (a list: "I am a big fan" is not a job).
_JOBS = (
    r"(?P<value>(?:(?:senior|junior|freelance|head|staff|chief|trainee|retired|software|data|"
    r"civil|mechanical|graphic|web|interior|primary|secondary|school|high school|music|dental|"
    r"veterinary|social|flight|research|sales|account|project|product)\s+)?(?:teacher|nurse|"
    r"doctor|engineer|developer|programmer|designer|architect|lawyer|accountant|electrician|"
    r"plumber|carpenter|chef|cook|baker|barista|waiter|waitress|pilot|vet|dentist|pharmacist|"
    r"journalist|writer|photographer|librarian|scientist|researcher|student|firefighter|"
    r"police officer|paramedic|mechanic|farmer|translator|analyst|manager|consultant|"
    r"therapist|psychologist|musician|artist|actor|actress|surgeon|midwife|cleaner|"
    r"driver|professor|lecturer|tutor|economist|historian|physiotherapist|optician|"
    r"hairdresser|butcher|tailor|gardener|soldier|sailor|judge|banker|realtor|"
    r"estate agent|software engineer|data analyst|product manager))"
)

RULES: tuple[Rule, ...] = (
    _rule("name", rf"^(?:my\s+name\s+is|(?:please\s+)?call\s+me|i\s+go\s+by)\s+(?P<value>{_NAME})",
          _simple("user.name", "User's name is {value}.")),
    _rule("age", rf"^i\s+am\s+(?P<value>\d{{1,3}}|{_NUMBER})"
          r"(?:\s+years?\s+old|\s+(?:now|this year|and)\b|\s*,|$)",
          _age),
    _rule("age_turned", rf"^i\s+(?:just\s+)?turned\s+(?P<value>\d{{1,3}}|{_NUMBER})\b", _age),
    _rule("job", rf"^{_WORK}\s+as\s+(?:(?:a|an)\s+)?(?P<value>{_PHRASE})",
          _simple("user.job", "User works as {value}.")),
    _rule("job_became", rf"^i\s+(?:became|got\s+a\s+job\s+as|(?:just\s+)?started\s+as|"
          rf"make\s+a\s+living\s+as)\s+(?:(?:a|an)\s+)?(?P<value>{_PHRASE})",
          _simple("user.job", "User works as {value}.")),
    _rule("job_is", rf"^my\s+(?:job|profession|occupation)\s+is\s+(?:(?:a|an)\s+)?"
          rf"(?P<value>{_PHRASE})",
          _simple("user.job", "User works as {value}.")),
    _rule("job_i_am", rf"^i\s+am\s+{_NOW}(?:a|an)\s+{_JOBS}\b",
          _simple("user.job", "User works as {value}.")),
    _rule("employer", rf"^{_WORK}\s+(?:at|for)\s+(?:the\s+)?(?P<value>{_NAME})",
          _simple("user.employer", "User works at {value}.")),
    _rule("employer_job", rf"^i\s+am\s+(?:a|an)\s+{_PHRASE}\s+at\s+(?P<value>{_NAME})",
          _simple("user.employer", "User works at {value}.")),
    _rule("location", rf"^(?:i|we)\s+{_NOW}(?:live|reside|"
          rf"(?:am|are)\s+{_NOW}(?:living|based|settled)|"
          rf"have\s+been\s+living)\s+in\s+"
          rf"(?P<value>{_NAME})",
          _simple("user.location", "User lives in {value}.")),
    _rule("moved", rf"^(?:i|we)\s+(?:have\s+)?{_NOW}(?:moved|relocated)\s+(?:back\s+)?to\s+"
          rf"(?P<value>{_NAME})",
          _simple("user.location", "User lives in {value}.")),
    _rule("home", rf"^(?:my|our)\s+(?:home|address)\s+is\s+(?:now\s+)?in\s+(?P<value>{_NAME})",
          _simple("user.location", "User lives in {value}.")),
    _rule("hometown", rf"^(?:i\s+am\s+(?:originally\s+)?from|i\s+grew\s+up\s+in|"
          rf"i\s+was\s+born\s+in)\s+"
          rf"(?P<value>{_NAME})",
          _simple("user.hometown", "User is from {value}.")),
    _rule("diet", rf"^i\s+(?:am|have\s+been)\s+{_NOW}(?:a\s+|an\s+)?{_DIETS}\b", _diet),
    _rule("diet_went", rf"^i\s+(?:went|have\s+gone)\s+{_DIETS}\b", _diet),
    _rule("no_meat", r"^i\s+(?:no\s+longer|do\s+not|stopped|quit)\s+(?:eat(?:ing)?\s+)?"
          r"(?P<food>meat|fish|animal products)(?:\s+any\s*more)?\b",
          _no_meat),
    _rule("allergy", rf"^i\s+am\s+(?:severely\s+|very\s+|mildly\s+)?allergic\s+to\s+"
          rf"(?P<value>{_PHRASE})",
          _allergy),
    _rule("favourite", rf"^my\s+(?:all[- ]time\s+)?favou?rite\s+(?P<thing>{_PHRASE}?)\s+is\s+"
          r"(?P<value>[\w' -]{2,40})",
          _favourite),
    _rule("dislike", r"^i\s+(?:really\s+)?(?:hate|dislike|detest|cannot\s+stand|do\s+not\s+like|"
          rf"no\s+longer\s+like)\s+(?P<value>{_PHRASE})",
          _preference(False)),
    _rule("like", r"^i\s+(?:really\s+|absolutely\s+|just\s+)?(?:love|like|enjoy|adore)\s+"
          rf"(?P<value>{_PHRASE})",
          _preference(True)),
    _rule("pet_named", rf"^(?:i|we)\s+(?:have|have\s+got|got|adopted|own)\s+(?:an?|two|three)\s+"
          rf"{_PET}\s+(?:named|called)\s+(?P<value>{_NAME})",
          _pet_named),
    _rule("pet_name_is", rf"^(?:my|our)\s+{_PET}(?:'s)?\s+(?:name\s+is|is\s+called|is\s+named)\s+"
          rf"(?P<value>{_NAME})",
          _pet_named),
    _rule("pet_apposition", rf"^(?:my|our)\s+{_PET}\s+(?P<value>{_NAME})\s+(?:is|was|has)\b",
          _pet_named),
    _rule("pet_owned", rf"^(?:i|we)\s+(?:have|own|got|adopted|have\s+got)\s+(?:an?|a\s+new)\s+"
          rf"{_PET}$",
          _pet_owned),
    _rule("car", rf"^i\s+(?:drive|own|bought)\s+(?:an?\s+)?(?:old\s+|new\s+|used\s+|electric\s+)?"
          rf"(?P<value>{_NAME}(?:\s+[\w-]+)?)",
          _simple("user.car", "User drives {value}.")),
    _rule("kin_name", rf"^my\s+{_KIN}(?:'s)?\s+(?:name\s+is|is\s+called|is\s+named)\s+"
          rf"(?P<value>{_NAME})",
          _kin_name),
    _rule("married", rf"^i\s+am\s+(?:married\s+to|engaged\s+to)\s+(?P<value>{_NAME})",
          _simple("user.spouse.name", "User's spouse is {value}.")),
    _rule("kin_location", rf"^my\s+{_KIN}\s+{_NOW}(?:lives|is\s+living|is\s+based|"
          rf"moved|relocated|has\s+moved|has\s+relocated)\s+(?:in|to)\s+(?P<value>{_NAME})",
          _kin_location),
    _rule("kin_job", rf"^my\s+{_KIN}\s+{_NOW}(?:works|is\s+working)\s+as\s+"
          rf"(?P<art>(?:a|an)\s+)?(?P<value>{_PHRASE})",
          _kin_job),
    _rule("kin_job_is", rf"^my\s+{_KIN}\s+is\s+(?P<art>(?:a|an)\s+){_JOBS}$", _kin_job),
    _rule("member_kin_location", rf"\b(?P<member>{_FIRST})'s\s+{_MEMBER_KIN}\s+"
          rf"(?P<who>{_FIRST})(?:,\s+(?:they|she|he))?\s+{_SETTLED}\s+(?P<value>{_NAME})",
          _member_kin_location),
    _rule("children", r"^(?:i|we)\s+(?:have|have\s+got)\s+"
          r"(?P<value>\d|one|two|three|four|five|six)\s+"
          r"(?P<kids>kids?|children|child|sons?|daughters?)\b",
          _children),
    _rule("speaks", rf"^i\s+(?:speak|am\s+fluent\s+in)\s+(?P<value>{_NAME})",
          _simple("user.language", "User speaks {value}.")),
    _rule("trip", rf"^(?:i|we)\s+(?:am|are)\s+(?:flying|going|travell?ing|heading)\s+to\s+"
          rf"(?P<value>{_NAME})\s+{_WHEN}$",
          _plan),
    _rule("quit", r"^i\s+(?:quit|stopped|gave\s+up)\s+(?P<value>smoking|drinking|vaping|caffeine|"
          r"coffee|alcohol|sugar|gambling)\b",
          _quit),
)  # fmt: skip

_CONTRACTIONS = (
    (re.compile(r"\b(i|we|they|you)'m\b", re.IGNORECASE), r"\1 am"),
    (re.compile(r"\b(we|they|you)'re\b", re.IGNORECASE), r"\1 are"),
    (re.compile(r"\b(i|we|they|you)'ve\b", re.IGNORECASE), r"\1 have"),
    (re.compile(r"\b(i|we|they|you)'d\b", re.IGNORECASE), r"\1 would"),
    (re.compile(r"\b(i|we|they|you)'ll\b", re.IGNORECASE), r"\1 will"),
    (re.compile(r"\bcan't\b", re.IGNORECASE), "cannot"),
    (re.compile(r"\bwon't\b", re.IGNORECASE), "will not"),
    (re.compile(r"\b(do|does|did|is|are|was|were|have|has)n't\b", re.IGNORECASE), r"\1 not"),
    (re.compile(r"\bim\b"), "i am"),
)


def _normalize(sentence: str) -> str:
    sentence = sentence.replace("\u2019", "'").replace("\u2018", "'")
    for pattern, replacement in _CONTRACTIONS:
        sentence = pattern.sub(replacement, sentence)
    return sentence


# Not an assertion about the present: a hypothetical, a wish, a report of someone's words, a
# past state, a plan hedged.
_HYPOTHETICAL = re.compile(
    r"\b(?:if|would|could(?!\s+only)|might|maybe|perhaps|suppose|supposing|imagine|pretend|wish|hope|"
    r"hoping|dream|dreaming|thinking\s+(?:of|about)|considering|what\s+if|let's\s+say|"
    r"someday|one\s+day|should\s+i|whether|unless|used\s+to|planning\s+to\s+maybe)\b",
    re.IGNORECASE,
)
_REPORTED = re.compile(
    r"[\"“”«»]|\b(?:said|says|saying|told\s+me|tells\s+me|asked|asks|quote|quoting|"
    r"according\s+to|the\s+character|in\s+the\s+(?:book|movie|film|novel|show|song|story))\b",
    re.IGNORECASE,
)
_QUESTION_START = re.compile(
    r"^(?:do|does|did|are|is|was|were|can|could|should|would|will|have|has|what|where|who|"
    r"why|how|when|which|am)\b",
    re.IGNORECASE,
)
# Discourse openers that do not change what a sentence asserts.
_OPENERS = re.compile(
    r"^(?:(?:oh|ah|well|so|also|and|anyway|btw|by the way|actually|fyi|ok|okay|yes|yeah|"
    r"yep|no|hi|hey|hello|update|correction|news|fun fact|just so you know|for the record|"
    r"as of (?:today|now)|quick update|heads up|guess what|not anymore)\s*[,:!-]*\s*)+",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")


def sentences(text: str) -> Iterator[str]:
    """The sentences of a turn, each without its discourse opener; questions stay marked."""
    for raw in _SENTENCE.split(text):
        sentence = _OPENERS.sub("", raw.strip())
        if sentence:
            yield sentence


def is_assertion(sentence: str) -> bool:
    """A statement of fact: not a question, a hypothetical, or quoted/reported speech."""
    return not (
        sentence.rstrip().endswith("?")
        or _QUESTION_START.match(sentence)
        or _HYPOTHETICAL.search(sentence)
        or _REPORTED.search(sentence)
    )


def extract(text: str, members: Collection[str] = ()) -> list[Candidate]:
    """The facts a user's turn asserts about the user, one per slot (the last statement wins).
    `members`: the names the account's turns are spoken under (see MEMBER)."""
    ours = {_slug(name) for name in members}
    found: dict[str, Candidate] = {}
    for sentence in sentences(text):
        if not is_assertion(sentence):
            continue
        body = _normalize(sentence.rstrip(" .!;"))
        for rule in (*RULES, *RECORD_RULES):
            m = rule.pattern.search(body)
            candidate = rule.build(m) if m else None
            if candidate is not None and _about_us(candidate, ours):
                found[candidate.key] = candidate
    return list(found.values())


def _about_us(candidate: Candidate, members: set[str]) -> bool:
    """Not a relationship of someone outside the account."""
    head, _, rest = candidate.key.partition(".")
    return head != MEMBER or rest.partition(".")[0] in members


def extract_from_turns(turns: Sequence[Message]) -> list[ExtractedFact]:
    """The built-in extractor over a batch of turns: only what the user says about themselves
    (assistant and tool turns are not the user's statements), in turn order."""
    out: list[ExtractedFact] = []
    members = {t.name for t in turns if t.role == "user" and t.name}
    for turn in sorted(turns, key=lambda t: t.seq):
        if turn.role != "user":
            continue
        for c in extract(turn.content, members):
            source = message_source(turn.session_id, turn.id)
            out.append(ExtractedFact(c.key, c.text, (source,), turn.created_at))
    return out
