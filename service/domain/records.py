"""Records users note down about the things and events of their household or work: the wifi
password at the cabin, the code for the bike storage, the budget for the kitchen, the date of
Tom's dentist appointment, what a service runs on.

A record is an attribute of a named subject with a value of a recognisable shape: a code with
digits, a phone number, an amount of money, a calendar date, an upper-case codename, a product
name. The shape is the precision guard: "the weather in Rome is lovely" names no attribute, "the
budget for the trip is tight" has no amount, so neither is a record. The slot is
`record.<subject>.<attribute>` whatever words told it ("router login" and "wifi password" are
one attribute), so a correction supersedes the value it corrects.

Three kinds of rule: an attribute of a subject ("the code for X is V", "X: the code is V"), a
change that names the new value ("X got reset and the password is now V"), and verbs that name
the attribute themselves ("X opens with V", "X is on <date>", "we went with V for X").
"""

from __future__ import annotations

import re
from collections.abc import Callable

from service.domain.slots import Candidate, Rule, rule, slug

# Value shapes (named `value`).
_DIGITS = r"(?P<value>[a-z-]*\d[\w-]*)"  # "473861", "lapwing-3423"
_PHONE = r"(?P<value>\+?\d[\d ()-]{5,}\d)"
_MONEY = (
    r"(?P<value>[$€£]\s?\d[\d,]*(?:\.\d+)?(?:\s?[km]\b)?|"
    r"\d[\d,]*(?:\.\d+)?\s?(?:euros?|dollars?|pounds?)\b)"
)
_MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december)"
)
_DATE = (
    rf"(?P<value>\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}"
    rf"(?:\s+\d{{4}})?|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?)"
)
_CODENAME = r"(?P<value>(?-i:[A-Z][A-Z0-9]{2,}(?:[ -][A-Z][A-Z0-9]+){0,3}))"
# Two upper-case words ("COPPER LAPWING"): a codename even where no word says so.
_CODENAME_SHAPE = r"(?P<value>(?-i:[A-Z]{3,}(?:[ -][A-Z]{3,}){1,2}))(?![\w-])"
_PRODUCT = r"(?P<value>(?-i:[A-Z][\w.+#-]*(?:\s+(?:\d[\d.]*|[A-Z][\w.+#-]*)){0,2}))"

# The attributes a record can name: (canonical name, the words for it, its value's shape).
_ATTRIBUTES = (
    (
        "wifi password",
        r"wi-?fi(?:\s+(?:password|key|code|login))?|(?:network|router)\s+(?:key|password|login)",
        _DIGITS,
    ),
    ("codename", r"code\s*name|internal\s+name", _CODENAME),
    (
        "code",
        r"(?:door|entry|gate|keypad|access|alarm)\s+code|code|pin|passcode|digits|combination",
        _DIGITS,
    ),
    ("phone number", r"(?:phone|mobile|contact)(?:\s+number)?|number", _PHONE),
    ("budget", r"budget|(?:spending\s+)?(?:cap|limit)", _MONEY),
    ("date", r"date", _DATE),
)

# A subject between two anchors ("the code for <the bike storage> is"): a few words.
_BOUNDED = r"(?P<subj>(?:(?:the|our|my)\s+)?[\w'-]+(?:\s+[\w'-]+){0,6}?)"
# A subject that opens a clause: a determiner or a capital first ("the storage unit opens
# with", "Noah's birthday party can have"), so "so Noah's party" does not start at "so".
_OPENING = r"(?P<subj>(?:(?:the|our|my)\s+[\w'-]+|(?-i:[A-Z][\w'-]*))(?:\s+[\w'-]+){0,4}?)"
# A thing, not a person: "the auth gateway", "our mobile relaunch".
_THING = r"(?P<subj>(?:the|our|my)\s+[\w'-]+(?:\s+[\w'-]+){0,3}?)"
_CLAUSE_END = r"(?=\s*(?:[,;]|$))"
_IS = r"(?:\s+is(?:\s+now)?\s+|\s*[:=]\s*|\s+(?:has\s+)?changed\s+to\s+|"
_IS += r"\s+went\s+(?:up|down)\s+to\s+|\s+(?:was|has\s+been)\s+(?:raised|lowered|changed)\s+to\s+|"
_IS += r",\s+it(?:\s+is|'s)(?:\s+now)?\s+)"
_CHANGED = r"(?:reset|changed|replaced|updated|revised|raised|lowered|moved|rescheduled|shifted)"
_CHANGE = r"(?:revise|revised|change|changed|reset|update|updated|raise|raised|lower|lowered|"
_CHANGE += r"shift|shifted|move|moved|reschedule|rescheduled|push|pushed)"
# Words after which a subject has ended: "the bike storage after the break-in scare".
_SUBJECT_END = re.compile(
    r"\s+(?:after|before|since|from|now|next|again|today|this|last|until|is|was|will)\b.*$",
    re.I,
)
_ATTRIBUTE_ONLY = re.compile(
    r"(?:new\s+|old\s+)?(?:date|code|number|budget|cap|password|key|codename|it|that|this)", re.I
)
_NOT_PRODUCTS = frozenset(
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "i", "we"]
)


def _subject(m: re.Match[str]) -> str:
    """The subject's words without what trails it or the attribute before it ("Cap for the
    garden makeover" -> "the garden makeover"); empty when it names only an attribute."""
    subject = _SUBJECT_END.sub("", m["subj"].strip())
    subject = re.sub(r"^.*\b(?:for|at)\s+", "", subject, flags=re.I).strip(" .,:;'\"")
    subject = re.sub(r"^(the|our|my)\b", lambda d: d[1].lower(), subject, flags=re.I)
    return "" if _ATTRIBUTE_ONLY.fullmatch(_bare(subject)) else subject


def _bare(subject: str) -> str:
    """Without its determiner: what names the slot ("the cabin" and "our cabin" are one)."""
    return re.sub(r"^(?:the|our|my)\s+", "", subject)


def _record(attribute: str, render: str) -> Callable[[re.Match[str]], Candidate | None]:
    """A record of `attribute`; `render` makes its sentence from {subject} and {value}."""

    def build(m: re.Match[str]) -> Candidate | None:
        subject, value = _subject(m), m["value"].strip(" .,;:")
        if not subject or not value or value.lower() in _NOT_PRODUCTS:
            return None
        text = render.format(subject=subject, value=value)
        return Candidate(
            f"record.{slug(_bare(subject))}.{slug(attribute)}", value, text[0].upper() + text[1:]
        )

    return build


def _attribute_rules(name: str, words: str, value: str) -> list[Rule]:
    """The phrasings every attribute has: of a subject, under a subject heading, and as the
    new value after a change."""
    attr = rf"(?:{words})"
    build = _record(name, f"The {name} for {{subject}} is {{value}}.")
    slot = name.replace(" ", "_")
    return [
        rule(f"{slot}_of", rf"\b{attr}\s+(?:for|at|of|to)\s+(?:the\s+\w+\s+at\s+)?{_BOUNDED}"
             rf"{_IS}{value}", build),
        rule(f"{slot}_heading", r"(?:^|:\s+)(?:for\s+(?:whoever|anyone|everyone|visitors|guests)"
             rf"\s+(?:is\s+|staying\s+)?(?:at|in)\s+)?{_BOUNDED}(?:\s+next)?:\s+(?:the\s+)?"
             rf"{attr}\s+is\s+{value}", build),
        rule(f"{slot}_changed", rf"\b(?:the\s+\w+\s+at\s+)?{_OPENING}\s+(?:got|was|has\s+been)\s+"
             rf"{_CHANGED}(?:,|\s+and)\s+(?:so\s+)?the\s+(?:new\s+)?{attr}\s+is(?:\s+now)?\s+"
             rf"{value}", build),
        rule(f"{slot}_change", rf"\b{_CHANGE}\s+{_OPENING},\s+(?:so\s+)?the\s+(?:new\s+)?{attr}"
             rf"\s+is(?:\s+now)?\s+{value}", build),
    ]  # fmt: skip


# A new or reset device gives its attribute a new value: "new router at the studio, so the
# key is V" (the router's key is the wifi password).
_DEVICES = {"router": "wifi password", "modem": "wifi password", "wifi": "wifi password"}
_DEVICES |= {"lock": "code", "keypad": "code", "padlock": "code", "alarm": "code"}
_DEVICE = "(?P<device>" + "|".join(_DEVICES) + ")"


_BY_DEVICE = {d: _record(a, f"The {a} for {{subject}} is {{value}}.") for d, a in _DEVICES.items()}


def _device(m: re.Match[str]) -> Candidate | None:
    return _BY_DEVICE[m["device"].lower()](m)


_CODE = _record("code", "The code for {subject} is {value}.")
_PHONE_NUMBER = _record("phone number", "The phone number for {subject} is {value}.")
_BUDGET = _record("budget", "The budget for {subject} is {value}.")
_DATED = _record("date", "{subject} is on {value}.")
_USES = _record("uses", "{subject} uses {value}.")
_CODENAMED = _record("codename", "The codename for {subject} is {value}.")

RECORD_RULES: tuple[Rule, ...] = (
    *(r for attribute in _ATTRIBUTES for r in _attribute_rules(*attribute)),
    rule("device_new", rf"\b(?:new|reset\s+the|replaced\s+the)\s+{_DEVICE}\s+(?:at|for|on)\s+"
         rf"{_BOUNDED},\s+(?:so\s+)?the\s+(?:new\s+)?(?:key|password|code|pin|login)\s+is"
         rf"(?:\s+now)?\s+{_DIGITS}", _device),
    rule("code_entry", r"\bto\s+(?:get\s+into|open|unlock|enter|get\s+through)\s+"
         rf"{_BOUNDED}\s+(?:you\s+)?(?:tap|type|enter|punch\s+in|key\s+in|dial)\s+{_DIGITS}",
         _CODE),
    rule("code_opens", rf"\b{_OPENING}\s+(?:opens|unlocks)\s+with\s+{_DIGITS}", _CODE),
    rule("phone_reach", rf"\b{_OPENING}\s+can\s+be\s+(?:reached|called|contacted)\s+(?:on|at)\s+"
         rf"{_PHONE}", _PHONE_NUMBER),
    rule("phone_new", rf"\b{_OPENING}\s+(?:got\s+a\s+new\s+(?:phone|number|mobile)|changed\s+"
         r"(?:networks|numbers|phones|providers))\s*,\s+(?:the\s+(?:new\s+)?number\s+is"
         rf"(?:\s+now)?|use|call|ring)\s+{_PHONE}", _PHONE_NUMBER),
    rule("budget_up_to", rf"\bfor\s+{_BOUNDED}\s+(?:we|i)\s+can\s+(?:go\s+up\s+to|spend"
         rf"(?:\s+up\s+to)?|afford)\s+{_MONEY}", _BUDGET),
    rule("budget_max", rf"(?:^|:\s+){_OPENING}:\s+{_MONEY}\s+(?:max|maximum|tops|total|all\s+in)"
         r"\b", _BUDGET),
    rule("budget_have", rf"\b{_OPENING}\s+can\s+have\s+{_MONEY}", _BUDGET),
    rule("date_is", rf"\b{_OPENING}\s+(?:is|will\s+be)(?:\s+now)?\s+(?:on\s+|booked\s+for\s+|"
         rf"scheduled\s+for\s+|set\s+for\s+)?{_DATE}", _DATED),
    rule("date_moved", rf"\b{_OPENING}\s+(?:got|was|has\s+been)\s+(?:moved|rescheduled|shifted|"
         rf"pushed(?:\s+back)?|changed)(?:\s+to|,\s+it(?:\s+is|'s)\s+now)\s+(?:on\s+)?{_DATE}",
         _DATED),
    rule("date_shift", rf"\b{_CHANGE}\s+{_OPENING}(?:\s+to|,\s+the\s+new\s+date\s+is)\s+"
         rf"(?:on\s+)?{_DATE}", _DATED),
    rule("date_calendar", rf"\bput\s+{_DATE}\s+in\s+the\s+(?:calendar|diary)\s+for\s+"
         rf"{_BOUNDED}{_CLAUSE_END}", _DATED),
    rule("uses_chose", r"\bwe\s+(?:decided\s+to\s+use|went\s+with|chose|picked|settled\s+on|"
         rf"are\s+going\s+with)\s+{_PRODUCT}\s+for\s+{_THING}{_CLAUSE_END}", _USES),
    rule("uses_runs", rf"\b{_THING}\s+(?:will\s+run\s+on|runs\s+on|is\s+running\s+on|"
         r"is\s+going\s+on|is\s+built\s+on|will\s+be\s+built\s+on|will\s+use|uses|is\s+using)\s+"
         rf"{_PRODUCT}", _USES),
    rule("uses_moving", rf"\bwe\s+are\s+(?:moving|migrating|switching)\s+{_THING}\s+(?:over\s+)?"
         rf"to\s+{_PRODUCT}", _USES),
    rule("codename_call", rf"\bwe\s+are\s+(?:calling|naming)\s+{_THING}\s+{_CODENAME}",
         _CODENAMED),
    rule("codename_goes", rf"\b{_THING}\s+(?:goes\s+by|is\s+(?:now\s+)?(?:codenamed|code-named|"
         rf"known\s+as))\s+(?:the\s+codename\s+)?{_CODENAME}", _CODENAMED),
    rule("codename_is", rf"\b{_THING}\s+is(?:\s+now)?\s+{_CODENAME_SHAPE}", _CODENAMED),
)  # fmt: skip
