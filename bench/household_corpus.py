"""Seeded synthetic multi-session conversations for the retrieval-quality benchmark.

`generate()` builds months of chat between a household account (several user-side
speakers) and an assistant: planted facts (passwords, codes, codenames, appointments,
decisions, budgets), later corrections of some of them, two-hop relations split across
sessions, dated events, and many distractor turns that reuse the same entity types and
wording (other places, other people, other codes, plans not yet carried out). Each
`Question` names the turns that hold its answer, so a context assembled within a token
budget can be scored by whether all of its evidence turns made it in. Questions come in five
kinds (KINDS_ASKED), a fifth each: asked in the fact's own words, asked in other words,
two hops, needing a date, and a corrected fact where only the latest value is right.
Recency windows fail (evidence is spread over all sessions) and plain similarity search is
tempted by the outdated value, the near-miss mention, the hop it cannot see from the
question, or a question that shares only a name with its answer.
Deterministic: everything comes from one `random.Random(seed)`.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True, slots=True)
class Turn:
    id: str
    session_id: str
    seq: int
    role: str
    name: str
    content: str
    created_at: datetime


# single_hop: one fact, asked in the words it was told in; paraphrase: asked in other words
# (little overlap with its evidence but the names); multi_hop: two facts told in different
# sessions; temporal: needs a turn's date or the order of turns; update: a corrected fact asked
# now, only the latest value is right (its evidence is the last correction alone).
KINDS_ASKED = ("single_hop", "paraphrase", "multi_hop", "temporal", "update")


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    kind: str  # one of KINDS_ASKED
    text: str
    evidence: tuple[str, ...]
    answer: str


@dataclass(frozen=True, slots=True)
class Corpus:
    user_id: str
    sessions: tuple[tuple[Turn, ...], ...]
    questions: tuple[Question, ...]


def _s(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split("|"))


Block = dict[str, tuple[str, ...]]


def _blocks(text: str) -> list[Block]:
    """`@field a|b|c` lines, other lines continue the field; the first field opens each block."""
    raw: list[dict[str, str]] = []
    lines = text.strip().splitlines()
    opener, key = lines[0][1:].partition(" ")[0], ""
    for line in lines:
        if line.startswith("@"):
            key, _, rest = line[1:].partition(" ")
            if key == opener:
                raw.append({})
            raw[-1][key] = rest
        elif line.strip():
            raw[-1][key] += " " + line.strip()
    return [{k: _s(v) if v.strip() else () for k, v in b.items()} for b in raw]


SPEAKERS = ("Maya", "Tom", "Priya")
# Entity pools: `{CITY}` in a template is a random pick (in subject lists: every pick).
P = _blocks("""
@SPEAKER Maya|Tom|Priya
@FIRST Lena|Omar|Grace|Felix|Hana|Diego|Ines|Kofi|Sofia|Marek|Yuki|Amara|Luca|Nadia|Tariq|Elif
|Bruno|Chloe|Ravi|Zara|Jonas|Mei|Theo|Ayesha|Pablo|Wren|Idris|Freya|Soren|Leila
@SURNAME Okafor|Lindqvist|Moreau|Tanaka|Alvarez|Kowalski|Haddad|Brennan|Osei|Varga|Nakamura
|Castillo|Fischer|Mensah|Duarte|Novak|Sato|Quinn|Abebe|Rossi|Petrov|Iyer
@CITY Porto|Lisbon|Nairobi|Lagos|Krakow|Osaka|Valencia|Tallinn|Montreal|Bogota|Accra|Seville
|Gdansk|Kyoto|Lyon|Dublin|Rotterdam|Hanoi|Cape Town|Vancouver|Melbourne|Bergen|Glasgow
@BIRD kestrel|heron|osprey|wren|plover|magpie|swift|curlew|lapwing|merlin|egret|ibis
@COLOR blue|amber|scarlet|silver|jade|violet|copper|ivory|cobalt|crimson|olive|slate
@STREET Rua das Flores|Harbour Lane|Mill Road|Kestrel Street|Station Parade|Old Quay
|Linden Avenue|Canal Walk|Chapel Row|Market Street|Orchard Close|Ferry Road
@SERVICE the billing service|the search indexer|the notification pipeline|the auth gateway
|the analytics dashboard|the job scheduler|the audit log|the recommendation service
@PROJECT the churn dashboard|the invoicing API|the loyalty program|the kiosk app
|the vendor portal|the sync engine|the reporting revamp|the help center
@BOOK The Glass Orchard|A Map of Salt|The Quiet Engine|Winter Harbour|The Ninth Lantern
|Paper Rivers|The Long Thaw|Saltmarsh|The Cartographer's Daughter|North of Nowhere
@DISH shakshuka|mushroom risotto|lamb tagine|pad thai|fish pie|dal makhani|paella|ramen
@ING tahini|fresh coriander|creme fraiche|saffron|fish sauce|smoked paprika|miso
@PRODUCT standing desk|espresso machine|e-bike|robot vacuum|air fryer|rowing machine
@MONTH January|February|March|April|May|June|July|August|September|October|November
@TECH Postgres 16|MySQL 8|Redis 7|Kafka|ClickHouse|SQLite|RabbitMQ|MongoDB 7|DynamoDB
|Elasticsearch 8|Cassandra|NATS
@FOOD peanuts|shellfish|sesame|kiwi|walnuts|mustard|celery|eggs|soy
@DOG Biscuit|Pepper|Mochi|Juno|Rufus|Olive|Ziggy|Bramble|Pickle|Nutmeg
@TEAM Platform|Payments|Growth|Storage|Identity|Mobile|Data
@JOB data engineer|product designer|nurse|patent lawyer|sound engineer|pharmacist
@WORKS the bathroom refit|the roof repair|the garden fence|the loft insulation
@SIGHT market|cathedral|old bridge|park|harbour|tram stop
@KIN cousin|godchild|old flatmate|childhood friend
@APPT dentist appointment|eye exam|physio session|car service|haircut
""")[0]
P["NAME"] = P["FIRST"] + SPEAKERS
P["CODENAME"] = tuple(f"{c} {b}".upper() for c in P["COLOR"] for b in P["BIRD"])
P["NUM"], P["PIN"] = tuple(map(str, range(10, 100))), tuple(map(str, range(1000, 10000)))
P["MM"], P["DD"] = tuple(f"{n:02d}" for n in range(1, 12)), tuple(f"{n:02d}" for n in range(1, 29))
P["DAY"], P["MONEY"] = tuple(map(str, range(1, 29))), tuple(f"${n * 50:,}" for n in range(8, 121))
_POOL = re.compile(r"\{([A-Z]{2,})\d?\}")  # {CITY}; {CITY1} and {CITY2} may differ


def _pick(r: random.Random, template: str) -> str:
    """Each distinct placeholder gets one random pick, the same wherever it repeats."""
    memo: dict[str, str] = {}
    return _POOL.sub(lambda m: memo.setdefault(m[0], r.choice(P[m[1]])), template)


def _expand(template: str) -> list[str]:
    """Every combination (for subject lists)."""
    names = _POOL.findall(template)
    out = []
    for combo in itertools.product(*(P[n] for n in names)):
        text = template
        for name, value in zip(names, combo, strict=True):
            text = text.replace("{" + name + "}", value, 1)
        out.append(text)
    return out


# Planted facts. {s} subject, {v} value, {S} capitalised subject. No @fix: never corrected.
KINDS = _blocks("""
@kind wifi
@subjects the cabin|the lake house|Grandma's flat|the studio|the beach rental|the co-working
space|Aunt Ruth's place|the ski chalet|the boat shed|the garden office
@value {BIRD}-{PIN}
@state The wifi password at {s} is {v}, writing it here so we don't lose it.|Note for later:
wifi at {s} is {v}, all lowercase.|If anyone asks, the wifi password for {s} is {v}.
@ack Got it, wifi for {s}: {v}.|Noted, the network password at {s} is {v}.
@fix Actually, correction: the wifi password at {s} changed to {v}, the old one is dead.|
Heads up, the router at {s} got reset and the wifi password is now {v}.
@ask What's the password for the wifi at {s}?|I need to get online at {s}, what's the key?
@para How do I get the laptop on the network at {s}?|My phone refuses to connect at {s}, what do
I type in?
@before What was the wifi password at {s} before it changed, and what is it now?
@near The wifi at {s} kept dropping all evening, we need a better router.|Remind me to stick
the wifi details for {s} on the fridge.|Does {s} have decent wifi for video calls?
@kind code
@subjects the bike storage|the parking garage|Mum's building|the gym lockers|the office side
door|the allotment gate|the storage unit|the rooftop terrace
@value {PIN}{NUM}
@state The code for {s} is {v}.|Door code for {s}: {v}, don't share it around.
@ack Saved: {s} opens with {v}.|Okay, {v} for {s}.
@fix They changed the code for {s}, it's {v} from today.|Correction, the code for {s} is now {v}.
@ask Which code gets me into {s}?|What number do I punch in at {s}?
@para I'm stuck outside {s}, which digits do I tap to get through?|How does a visitor unlock
{s}?
@before What was the code for {s} originally, and what is it after the change?
@near The keypad at {s} is broken again, had to wait for someone.|Who has the fob for {s}?
@kind codename
@subjects the billing rewrite|the mobile relaunch|the data warehouse migration|the onboarding
revamp|the search overhaul|the partner API|the pricing experiment|the offline mode
@value {CODENAME}
@state Our codename for {s} is {v}.|From now on {s} goes by the codename {v} in all docs.
@ack Nice, {v} it is for {s}.|Noted: {s} is {v} internally.
@fix Correction: legal vetoed the old name, {s} is now codenamed {v}.
@ask What codename are we using for {s}?|What do we call {s} internally?
@para If I mention {s} in a meeting, which alias should I say?|What secret label does the team
give {s}?
@before What was the first codename for {s}, and what did it become?
@near The kickoff for {s} ran long again.|Need slides on {s} for Thursday's all-hands.
@kind appointment
@subjects {SPEAKER}'s {APPT}|Noah's {APPT}|Grandpa Joe's {APPT}
@value 2026-{MM}-{DD}
@state Just confirmed: {s} is on {v}.|{S} is booked for {v}, morning slot.
@ack Okay, {s} on {v}, I'll keep it in mind.|Noted {v} for {s}.
@fix {S} got moved, it's now on {v}.|They called to reschedule: {s} is now {v}.
@ask When is {s} scheduled?|What day is {s}?
@para Which date goes in the calendar for {s}?|When do we need to turn up for {s}?
@before When was {s} originally, and when is it after the reschedule?
@near I keep forgetting to check the time for {s}.|Can someone drive for {s}?
@kind tech
@subjects {SERVICE}
@value {TECH}
@state We decided to use {v} for {s}.|After the design review we went with {v} for {s}.|Final
call from the architecture sync: {s} will run on {v}.
@ack Good, {v} should suit {s}.|Recorded: {v} backs {s}.
@fix Change of plan: {s} will use {v} instead, the load tests were bad.
@ask Which technology did we settle on for {s}?|What is {s} built on storage-wise?
@para What sits underneath {s} as its backing store?|Which engine powers {s} behind the scenes?
@before What did we first choose for {s}, and what did we switch to?
@near The latency graphs for {s} look weird today.|{S} needs an owner for the migration.
@kind budget
@subjects the wedding flowers|the team offsite|the kitchen renovation|Noah's birthday party|the
winter holiday|the new laptop|the garden makeover|the conference booth
@value {MONEY}
@state We agreed the budget for {s} is {v}, not a cent more.|Cap for {s}: {v} total.
@ack Understood, {v} for {s}.|Noted, I'll flag anything for {s} that goes over {v}.
@fix Update: the budget for {s} went up to {v}.|We revised {s}, the cap is now {v}.
@ask How much money did we set aside for {s}?|What can we spend on {s}?
@para What's the most we may pay for {s}?|How much cash is there to put toward {s}?
@before What was the budget for {s} at first, and what is it now?
@near Got three quotes for {s}, all wildly different.|Let's talk about {s} next week.
@kind allergy
@subjects {FIRST}
@value {FOOD}
@state For the dinner party: {s} is allergic to {v}.|Careful with {s}, severe {v} allergy.
@ack Thanks, I'll keep {v} off anything for {s}.|Noted, no {v} near {s}.
@ask Which food does {s} need to avoid?|What is {s} allergic to?
@para What should I leave out when I cook for {s}?|Which ingredient would make {s} ill?
@near {s} loved the dessert last time.|Is {s} coming on Saturday or not?
@kind relative
@subjects {SPEAKER}'s {KIN} {FIRST}
@value {CITY}
@state Family news: {s} moved to {v} last month.|Heard from {s}, they relocated to {v}.
@ack Exciting, {v} is a big move for {s}.|Good to know {s} is in {v} now.
@fix Scratch that, {s} ended up in {v} instead, the first job fell through.
@ask Which city is {s} living in these days?|Where does {s} live now?
@para If we went to see {s}, where would we travel?|Which place does {s} call home now?
@before Where was {s} first said to have moved, and where do they live now?
@near {S} sent a long voice note, I still need to listen.|We should visit {s} this year.
@kind phone
@subjects our plumber|the babysitter|the vet clinic|the landlord|the piano teacher|the garage
@value 07{PIN1} {PIN2}{NUM}
@state Number for {s}: {v}.|Saving it here, {s} can be reached on {v}.
@ack Got it, {s} on {v}.|Stored {v} for {s}.
@fix {S} got a new phone, the number is {v} now.
@ask What's the phone number for {s}?|How do I ring {s}?
@para What do I dial to get hold of {s}?|Which digits call {s}?
@before What was the old number for {s}, and what's the new one?
@near {S} didn't pick up again.|Remind me to pay {s} on Friday.
""")
for _kind in KINDS:
    _kind["subjects"] = tuple(x for t in _kind["subjects"] for x in _expand(t))

# Two-hop relations: the first two @ents must be unique in the corpus, the last one answers.
CHAINS = _blocks("""
@ents p={FIRST}|m={FIRST} {SURNAME}|c={CITY}
@a {p}'s manager is {m}, who apparently runs a tight ship.|Found out {p} reports to {m} now.
@b {m} is based in the {c} office.|{m} works out of {c}, so calls are at odd hours.
@ask In which city is {p}'s manager based?|Where does the person {p} reports to work?
@para Where does {p}'s boss sit day to day?
@ents p={FIRST}|j={PROJECT}|d={DAY} {MONTH} 2026
@a {p} is leading {j} from now on.|Looks like {p} will be the lead on {j}.
@b Launch date for {j} is locked: {d}.|{J} ships on {d} if QA signs off.
@ask When is the project that {p} leads supposed to launch?
@para When will the thing {p} is in charge of go live?
@ents t={CITY}|h=Hotel {SURNAME}|lm={SIGHT}|st={STREET}
@a For the {t} trip we're staying at {h}.|Booked {h} for our {t} trip, great reviews.
@b {h} is on {st}, right next to the {lm}.|Directions: {h} sits on {st} by the {lm}.
@ask What street is our hotel for the {t} trip on?
@para What's the address of where we sleep in {t}?
@ents p={FIRST}|f={FIRST} {SURNAME}|job={JOB}|co={SURNAME} Analytics
@a {p}'s old college roommate is {f}.|Turns out {f} was {p}'s roommate at uni.
@b {f} works as a {job} at {co} these days.|{f} just started as a {job} at {co}.
@ask Which company does {p}'s former college roommate work for?
@para Who employs the person {p} shared a dorm with?
@ents svc={SERVICE}|team={TEAM}|n={FIRST}
@a {Svc} is owned by the {team} team.|Ownership of {svc} moved to the {team} team.
@b This quarter the {team} team's on-call lead is {n}.|{n} runs {team} on-call now.
@ask Who is on call for the team that owns {svc}?
@para If {svc} breaks at 3am, who gets paged?
@ents p={NAME}|dog={DOG}|st={STREET}|v=Dr. {SURNAME}
@a {p}'s dog is called {dog}.|{p} adopted a rescue dog and named it {dog}.
@b {dog}'s vet is {v} at the clinic on {st}.|Took {dog} to {v} on {st} for jabs.
@ask Which vet looks after {p}'s dog?
@para Which animal doctor does {p}'s pet see?
@ents p={FIRST}|bk={BOOK}|au={FIRST} {SURNAME}
@a {p} keeps recommending {bk} to everyone.|{p} lent me {bk}, swears by it.
@b {bk} is by {au}, it was their debut.|Looked it up: {au} wrote {bk}.
@ask Who is the author of the novel {p} keeps recommending?
@para Who penned the book {p} won't stop talking about?
@ents job={WORKS}|co={SURNAME} Builders|pr={MONEY}
@a {Co} is doing {job}.|We hired {co} for {job}, they start in two weeks.
@b {co} quoted {pr} for the work, materials included.|The quote from {co} was {pr}.
@ask How much did the firm doing {job} quote us?
@para What price did we get for {job}?
""")

# Filler topics: user lines, short replies, sentences for long assistant answers.
TOPICS = _blocks("""
@pairs Trying {DISH} tonight, does {NUM} minutes at 200C sound right? >> I'd start checking at
about {NUM} minutes; ovens vary a lot.|{FIRST} is coming Saturday, thinking of making {DISH}. Too
ambitious? >> {DISH} is very doable for guests if you prep the night before.|We're out of {ING}
again, what can I swap in? >> You can swap {ING} for something similar, the flavour shifts a
little but it works.|Batch-cooked {DISH}, that's {NUM} portions in the freezer now. >> Nice, label
them with the date so the oldest get eaten first.
@long Get everything chopped and measured before the pan goes on, it makes timing easier.|Salt
in layers rather than all at the end, and taste as you go along.|If the sauce gets too thick,
loosen it with a splash of the cooking water.|Resting the dish for ten minutes lets the flavours
settle.|Leftovers usually keep three or four days in a sealed container in the fridge.
@pairs Looking at trains from {CITY1} to {CITY2}, the {NUM}:15 seems best. >> The {NUM}:15 gives
you slack if the connection into {CITY2} runs late.|{FIRST} says {CITY} is lovely in autumn, add
it to the list? >> {CITY} is a great pick in shoulder season: fewer crowds, cheaper rooms.|Our
booking reference for the {CITY} ferry is {BIRD}-{PIN}, just so it's written down. >> Safe to
keep it here; screenshot the ticket too in case the signal drops.|The hotel in {CITY} wants a
{NUM} euro deposit, is that normal? >> Deposits like that are common in {CITY}, just check the
cancellation terms.
@long Refundable rooms cost a little more but save a lot of stress if plans change.|Check the
local transport passes, they often pay off within two days.|Keep digital copies of passports
and bookings somewhere you can reach offline.|Arriving in daylight makes the first evening in a
new city far easier.|Pack for the worst day of the forecast, not the average one.
@pairs Can you look at PR #{PIN}? {FIRST} changed the retry logic in {SERVICE}. >> I'd cap the
attempts and add jitter, or {SERVICE} will hammer its dependency.|The test suite for {SERVICE}
takes {NUM} minutes now. >> A slow suite usually means a few heavy integration tests; profile
before splitting it.|{FIRST} left a naming comment on {SERVICE} and I don't agree. >> Naming
debates are worth settling once in a short style note.|CI build {PIN} failed on the {SERVICE} job
again, the flaky timeout test. >> Quarantine that test and open a ticket, a flaky red build
trains everyone to ignore CI.
@long Small, focused pull requests get reviewed faster and break less in production.|Write the
reasoning into the commit message so the next reader has context.|Measure before optimising,
the slow part is rarely where you expect.|Feature flags make it much easier to ship a risky
change gradually.|Keep the review about behaviour; formatting belongs to the tools.
@pairs It's pouring in {CITY} again, {NUM} mm forecast for tomorrow. >> Sounds like a day for a
proper coat, or for the indoor jobs you keep postponing.|New deadlift PR today: {NUM} kg! >>
Nice work, keep the next sessions lighter so you recover.|{FIRST} wants to try the 6am spin
class with me. >> Early classes are easier to keep if you pack the bag the night before.|My knee
is grumbling after leg day, should I skip the run tomorrow? >> If it aches rather than hurts,
an easy bike session is usually the safer swap.
@long Consistency beats intensity over a few months, so protect the easy days too.|Rest days
are when the adaptation happens, so they count as training.|Sleep does more for recovery than
any supplement on the shelf.|A short warm-up saves you weeks of niggles later.|Log your
sessions, the trend matters more than any single day.
@pairs Halfway through {BOOK} and {FIRST} was right, the middle drags. >> Middles often drag in
that kind of novel; the last third usually pays it off.|Book club picked {BOOK} for next month,
{NUM} chapters, yikes. >> {NUM} chapters over a month is about one a day, very doable.|Any
recommendations similar to {BOOK}? Something shorter. >> Look for a novella with the same slow
burn; fewer subplots, same mood.|Gave up on {BOOK} after {NUM} pages, life's too short. >> Fair,
nobody hands out prizes for finishing books you aren't enjoying.
@long A chapter a day adds up quickly and keeps the story fresh in your head.|Audiobooks are a
good way to get through the slow middle sections.|Book clubs work best when someone brings two
or three questions.|Rereading a favourite now and then is time well spent.|Short notes in the
margin make the discussion much easier later.
""")

# Shared lines. Events: (base, past, gerund, object); 'I just <past> <object>' is dated by its turn.
EVENTS = (
    ("book", "booked", "booking", "the flight to {CITY}"),
    ("sign", "signed", "signing", "the lease for the flat on {STREET}"),
    ("order", "ordered", "ordering", "the new {PRODUCT}"),
    ("submit", "submitted", "submitting", "the visa application for {CITY}"),
    ("send", "sent", "sending", "the offer letter to {FIRST} {SURNAME}"),
    ("finish", "finished", "finishing", "reading {BOOK}"),
    ("pay", "paid", "paying", "the deposit for the venue in {CITY}"),
)
M = _blocks("""
@done Quick update: I just {past} {obj}.|Done! I finally {past} {obj} this morning.|Ticked one
off the list today: {past} {obj}.
@done_ack Nice, that's one big thing off the list! Want me to note what comes next?|Great news,
well done. Shall I set a reminder for the next step?
@intent I still need to {base} {obj}, remind me later this week.|Should I {base} {obj} now or
wait for a better price?|Not yet: I haven't managed to {base} {obj}, maybe at the weekend.
@when On what date did {p} {what}?|When exactly did {p} {what}?
@order Which happened first: {a} or {b}?|Which came earlier, {a} or {b}?
@ack Got it, I'll keep that in mind next time it comes up.|Noted, I've saved that so you don't
have to remember it yourself.|Thanks, that's useful context for later.|Good to know, I'll remember
that if anyone in the household asks.
@reply Want me to add that to your reminders for later this week?|Okay, noted. Tell me if you want
me to follow up on it.|Sounds like a plan, let me know if anything changes.|Happy to help with that
whenever you're ready to go through it.|Fair enough, let me know how it goes and we can adjust.
@tail I'll keep that handy for whenever you need it.|Just ask if you need it again later.|I've
added it to your notes.|Shout if anything about it changes.
@extra No rush on this, just thinking out loud.|{FIRST} mentioned something similar yesterday,
funnily enough.|Anyway, more on that later this week.|Let me know what you think when you get a
chance.|Writing it here because my own notes are a mess.|Sorry, it's been a long day.
@greet Morning! {n} here, I've got a few things to go through today.|Hey, it's {n}, just a quick
session before dinner if that's okay.|Hi, {n} again, picking up where we left off last time.
@chime Jumping in here: I'd rather wait until the weekend before deciding.|Agreed, let's just do
that and stop overthinking it.|Same, I was about to say exactly that, go for it.
@long Happy to think this through with you step by step, there is no rush at all.|The main
trade-off is time now against flexibility later, and both are reasonable choices.|If it helps,
I can turn this into a short checklist you can tick off over the week.|Most people underestimate
how long the small steps take, so leave yourself some buffer.|It is worth writing down what you
decide so nobody has to remember it in three months.|Let me know what constraints I am missing
and I will adjust the plan accordingly.|None of this has to be perfect the first time round.
""")[0]


@dataclass(slots=True)
class _Unit:
    text: str
    speaker: str
    reply: str
    reply_name: str = "assistant"


Key = tuple[int, int]  # (session index, pair slot)


@dataclass(slots=True)
class _Spec:
    kind: str
    text: str
    keys: list[Key]
    answer: Callable[[list[Turn]], str]


def _fmt(template: str, **kw: str) -> str:
    kw.update({k[0].upper() + k[1:]: v[0].upper() + v[1:] for k, v in kw.items() if v})
    return template.format(**kw)


def _day(turn: Turn) -> str:
    return turn.created_at.date().isoformat()


@dataclass(slots=True)
class _Plan:
    r: random.Random
    free: list[list[int]]  # free pair slots per session, shuffled
    placed: dict[Key, _Unit] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def sessions(self, k: int) -> list[int] | None:
        """k distinct sessions with a free slot, weighted by free slots, in time order."""
        pool = [i for i, f in enumerate(self.free) if f]
        if len(pool) < k:
            return None
        out: list[int] = []
        for _ in range(k):
            i = self.r.choices(pool, weights=[len(self.free[j]) for j in pool])[0]
            pool.remove(i)
            out.append(i)
        return sorted(out)

    def pad(self, text: str, extra: str = "extra", p: float = 0.4) -> str:
        """Sometimes one more everyday sentence, so that turns are not all bare facts."""
        return f"{text} {_pick(self.r, self.r.choice(M[extra]))}" if self.r.random() < p else text

    def put(self, text: str, session: int, reply: str, who: str = "") -> Key:
        key = (session, self.free[session].pop())
        unit = _Unit(self.pad(text), who or self.r.choice(SPEAKERS), self.pad(reply, "tail"))
        self.placed[key] = unit
        return key

    def claim(self, *names: str) -> bool:
        if any(n in self.used for n in names):
            return False
        self.used.update(names)
        return True

    def fact(self, mode: str) -> _Spec | None:
        """mode: plain (asked in its own words) | para (asked in other words) | current
        (corrected once or twice, asked now) | before (corrected, asked both values)."""
        r = self.r
        kind = r.choice([k for k in KINDS if k.get("fix") or mode in ("plain", "para")])
        subj = r.choice(kind["subjects"])
        fixes = {"plain": 0, "para": 0, "current": 1, "before": 1}[mode]
        if mode == "current" and r.random() < 0.3:
            fixes = 2  # corrected twice: two outdated values to be tempted by
        ss = self.sessions(1 + fixes)
        if ss is None or not self.claim(f"{kind['kind'][0]}:{subj}"):
            return None
        values = [_pick(r, kind["value"][0])]
        ack = _fmt(r.choice(kind["ack"]), s=subj, v=values[0])
        ack = ack if r.random() < 0.8 else r.choice(M["ack"])
        keys = [self.put(_fmt(r.choice(kind["state"]), s=subj, v=values[0]), ss[0], ack)]
        for session in ss[1:]:  # each correction in a later session, to a new value
            v = values[-1]
            while v in values:
                v = _pick(r, kind["value"][0])
            values.append(v)
            fix = _fmt(r.choice(kind["fix"]), s=subj, v=v)
            keys.append(self.put(fix, session, _fmt(r.choice(kind["ack"]), s=subj, v=v)))
        for _ in range(r.randint(0, 2)):  # near misses: same subject and wording, no value
            if near := self.sessions(1):
                self.put(_fmt(r.choice(kind["near"]), s=subj), near[0], r.choice(M["reply"]))
        first, now = values[0], values[-1]
        if mode == "before":
            q = _fmt(r.choice(kind["before"]), s=subj)
            return _Spec("temporal", q, keys, lambda _: f"before: {first}; now: {now}")
        question = _fmt(r.choice(kind["para" if mode == "para" else "ask"]), s=subj)
        label = {"plain": "single_hop", "para": "paraphrase", "current": "update"}[mode]
        return _Spec(label, question, keys[-1:], lambda _: now)

    def chain(self, hops: str = "ab", para: bool = False) -> _Spec | None:
        """Two facts told in different sessions, asked as one question (in other words: para)."""
        r = self.r
        ch = r.choice(CHAINS)
        e = {k: _pick(r, v) for k, v in (x.split("=", 1) for x in ch["ents"])}
        names = list(e)
        ss = self.sessions(len(hops))
        if ss is None or not self.claim(*(f"{ch['ask'][0]}:{e[k]}" for k in names[:2])):
            return None
        r.shuffle(ss)  # the second hop is as often told before the first
        keys = [
            self.put(_fmt(r.choice(ch[h]), **e), s, r.choice(M["ack"]))
            for h, s in zip(hops, ss, strict=True)
        ]
        ans = e[names[-1]]
        question = _fmt(r.choice(ch["para" if para else "ask"]), **e)
        return _Spec("paraphrase" if para else "multi_hop", question, keys, lambda _: ans)

    def event(self, session: int | None = None) -> tuple[Key, str, str, str] | None:
        """'I just did X', dated by its turn; returns key, who, 'base object', 'gerund object'."""
        r = self.r
        base, past, ger, obj_t = r.choice(EVENTS)
        obj = _pick(r, obj_t)
        if session is None:
            ss = self.sessions(1)
            session = ss[0] if ss else 0
        if not self.free[session] or not self.claim(f"event:{base} {obj}"):
            return None
        who = r.choice(SPEAKERS)
        earlier = [i for i in range(session + 1) if self.free[i]]
        if earlier and r.random() < 0.5:  # the undone plan, told earlier: a near miss
            intent = _fmt(r.choice(M["intent"]), base=base, obj=obj)
            self.put(intent, r.choice(earlier), r.choice(M["reply"]), who)
        if not self.free[session]:
            return None
        done = _fmt(r.choice(M["done"]), past=past, obj=obj)
        key = self.put(done, session, r.choice(M["done_ack"]), who)
        return key, who, f"{base} {obj}", f"{who} {ger} {obj}"

    def temporal(self) -> _Spec | None:
        r = self.r
        x = r.random()
        if x < 0.25:
            return self.fact("before")
        if x < 0.55:
            ev = self.event()
            if ev is None:
                return None
            q = r.choice(M["when"]).format(p=ev[1], what=ev[2])
            return _Spec("temporal", q, [ev[0]], lambda t: _day(t[0]))
        ss = self.sessions(2)
        if ss is None:
            return None
        r.shuffle(ss)
        a, b = self.event(ss[0]), self.event(ss[1])
        if a is None or b is None:
            return None
        ga, gb = a[3], b[3]
        if x < 0.8:

            def order(t: list[Turn]) -> str:
                (d1, g1), (d2, g2) = sorted([(_day(t[0]), ga), (_day(t[1]), gb)])
                return f"{g1} ({d1}) came before {g2} ({d2})"

            q = r.choice(M["order"]).format(a=ga, b=gb)
            return _Spec("temporal", q, [a[0], b[0]], order)

        def days(t: list[Turn]) -> str:
            n = abs((t[1].created_at.date() - t[0].created_at.date()).days)
            return f"{n} days ({_day(t[0])} and {_day(t[1])})"

        q = f"How many days passed between {ga} and {gb}?"
        return _Spec("temporal", q, [a[0], b[0]], days)

    def filler(self, topics: list[Block]) -> _Unit:
        r = self.r
        who = r.choice(SPEAKERS)
        x = r.random()
        if x < 0.25:  # near-miss mention of a fact subject, without any value
            kind = r.choice(KINDS)
            text = _fmt(r.choice(kind["near"]), s=r.choice(kind["subjects"]))
            return _Unit(self.pad(text, p=0.6), who, r.choice(M["reply"]))
        base, _, _, obj = r.choice(EVENTS)
        obj = _pick(r, obj)
        if x < 0.33 and f"event:{base} {obj}" not in self.used:  # a plan never carried out
            return _Unit(_fmt(r.choice(M["intent"]), base=base, obj=obj), who, r.choice(M["reply"]))
        topic = r.choice(topics)
        user, reply = _pick(r, r.choice(topic["pairs"])).split(" >> ")
        unit = _Unit(self.pad(user, p=0.5), who, self.pad(reply, "long", 0.6))
        y = r.random()
        if y < 0.15:
            unit.reply = " ".join(r.sample(topic["long"] + M["long"], r.randint(8, 12)))
        elif y < 0.22:
            unit.reply, unit.reply_name = r.choice(M["chime"]), r.choice(SPEAKERS)
            unit.speaker = r.choice([s for s in SPEAKERS if s != unit.reply_name])
        return unit


def generate(seed: int = 7, sessions: int = 16, turns_per_session: int = 40) -> Corpus:
    """About turns/10 questions, a fifth of each kind in KINDS_ASKED."""
    if sessions < 2 or turns_per_session < 4:
        raise ValueError("need at least 2 sessions of 4 turns")
    r = random.Random(seed)
    pairs = (turns_per_session + 1) // 2  # (user, reply) pairs; slot 0 opens the session
    plan = _Plan(r, [r.sample(range(1, pairs), pairs - 1) for _ in range(sessions)])
    n_q = max(5, sessions * pairs // 5)
    quota = [KINDS_ASKED[i * len(KINDS_ASKED) // n_q] for i in range(n_q)]
    r.shuffle(quota)
    build: dict[str, Callable[[], _Spec | None]] = {
        "single_hop": lambda: plan.fact("plain"),
        # Mostly one fact in other words; some two-hop questions in other words too.
        "paraphrase": lambda: plan.fact("para") if r.random() < 0.7 else plan.chain(para=True),
        "multi_hop": plan.chain,
        "temporal": plan.temporal,
        "update": lambda: plan.fact("current"),
    }
    specs: list[_Spec] = []
    for kind in quota:
        spec = next((s for s in (build[kind]() for _ in range(20)) if s is not None), None)
        if spec is not None:
            specs.append(spec)
    for _ in range(n_q // 3):  # decoys: the same kinds of facts, hops and events, never asked
        plan.fact(r.choice(["plain", "plain", "current"]))
        plan.chain(r.choice(["a", "b", "ab"]))
        plan.event()
    first: dict[Key, Turn] = {}
    out: list[tuple[Turn, ...]] = []
    t = datetime(2025, 9, 1, tzinfo=UTC)
    for s in range(sessions):
        sid = f"s{s + 1:02d}"
        t = t.replace(hour=0, minute=0, second=0) + timedelta(days=r.randint(5, 12))
        t += timedelta(hours=r.randint(7, 20), minutes=r.randint(0, 59))
        topics, lead = r.sample(TOPICS, 2), r.choice(SPEAKERS)
        rows: list[Turn] = []
        for slot in range(pairs):
            if slot == 0:
                unit = _Unit(
                    _fmt(r.choice(M["greet"]), n=lead),
                    lead,
                    f"Hi {lead}! Good to hear from you, what's first?",
                )
            else:
                unit = plan.placed.get((s, slot)) or plan.filler(topics)
            reply_role = "assistant" if unit.reply_name == "assistant" else "user"
            for role, name, text in (
                ("user", unit.speaker, unit.text),
                (reply_role, unit.reply_name, unit.reply),
            ):
                turn = Turn(f"{sid}-t{len(rows):03d}", sid, len(rows), role, name, text, t)
                first.setdefault((s, slot), turn)
                rows.append(turn)
                t += timedelta(minutes=r.randint(1, 6), seconds=r.randint(0, 59))
        out.append(tuple(rows[:turns_per_session]))
    r.shuffle(specs)
    questions = []
    for i, sp in enumerate(specs):
        ev = [first[k] for k in sp.keys]
        ids = tuple(e.id for e in ev)
        questions.append(Question(f"q{i + 1:03d}", sp.kind, sp.text, ids, sp.answer(ev)))
    return Corpus(f"household-{seed}", tuple(out), tuple(questions))


def summary(corpus: Corpus) -> dict[str, int]:
    turns = [t for s in corpus.sessions for t in s]
    counts = {
        "sessions": len(corpus.sessions),
        "turns": len(turns),
        "user_turns": sum(t.role == "user" for t in turns),
        "questions": len(corpus.questions),
        "evidence_turns": len({e for q in corpus.questions for e in q.evidence}),
    }
    for kind in KINDS_ASKED:
        counts[kind] = sum(q.kind == kind for q in corpus.questions)
    return counts


if __name__ == "__main__":
    corpus = generate()
    print(summary(corpus))
    by_id = {t.id: t for s in corpus.sessions for t in s}
    for kind in KINDS_ASKED:  # one question of each kind
        q = next(q for q in corpus.questions if q.kind == kind)
        print(f"\n[{q.id} {q.kind}] {q.text}\n  answer: {q.answer}")
        for e in q.evidence:
            t = by_id[e]
            print(f"  {e} {t.created_at:%Y-%m-%d %H:%M} {t.name}: {t.content}")
