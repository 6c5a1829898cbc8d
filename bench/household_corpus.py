"""Seeded synthetic multi-session conversations for the retrieval-quality benchmark.

`generate()` builds months of chat between a household account (several user-side
speakers) and an assistant: planted facts (passwords, codes, codenames, appointments,
decisions, budgets), later corrections of some of them, two-hop relations split across
sessions, dated events, things a speaker did again and again (trips, dinners for guests,
books finished, gigs, ...), and many distractor turns that reuse the same entity types and
wording (other places, other people, other codes, plans not carried out, cancellations,
the same thing done by someone else). Turns are everyday chat of a few sentences, often two
matters at once; the household's own subjects come up again and again without their values;
a fact is told in words that often differ from the question's. Each `Question` names the turns
that hold its answer, so a context assembled within a token budget can be scored by whether
all of its evidence turns made it in. Questions come in six kinds (KINDS_ASKED, shares in
KIND_SHARES): asked in the fact's own subject words, asked in other words, two hops, needing a
date, a corrected fact where only the latest value is right, and an aggregate that gathers
three or four turns told in different sessions. Recency windows fail (evidence is spread
over all sessions) and plain similarity search is tempted by the outdated value, the near-miss
mention, the hop it cannot see from the question, a question that shares only a name with its
answer, or the plan that never happened; an aggregate needs every one of its turns at once.
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


# single_hop: one fact, asked with its subject's words; paraphrase: asked in other words
# (little overlap with its evidence but the names); multi_hop: two facts told in different
# sessions; temporal: needs a turn's date or the order of turns; update: a corrected fact asked
# now, only the latest value is right (its evidence is the last correction alone); aggregate:
# everything one speaker said they did of one sort (3-4 turns from different sessions; plans,
# cancellations and other people's doings do not count).
KINDS_ASKED = ("single_hop", "paraphrase", "multi_hop", "temporal", "update", "aggregate")
KIND_SHARES = {  # in twentieths of the questions
    "single_hop": 3,
    "paraphrase": 4,
    "multi_hop": 3,
    "temporal": 3,
    "update": 3,
    "aggregate": 4,
}


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    kind: str  # one of KINDS_ASKED
    text: str
    evidence: tuple[str, ...]
    answer: str
    outdated: tuple[str, ...] = ()  # update: the values it replaced, wrong if served as current
    subject: str = ""  # single_hop, paraphrase, update of a planted fact: whose value it is


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
|The Salt Road|Small Hours|The Orchid Thief's Son|Letters to Nobody|The Drowned Library
@DISH shakshuka|mushroom risotto|lamb tagine|pad thai|fish pie|dal makhani|paella|ramen
|roast chicken|lasagne|green curry|moussaka|chilli con carne|gnocchi|biryani|jollof rice
|pierogi|enchiladas|beef stew|spanakopita
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
@SIGHT market|cathedral|old bridge|park|harbour|tram stop|castle|botanical garden
@KIN cousin|godchild|old flatmate|childhood friend
@APPT dentist appointment|eye exam|physio session|car service|haircut
@BAND The Lantern Club|Velvet Harbour|Paper Tigers|The Night Ferry|Saltwater Choir
|Neon Orchard|The Marrow Boys|Static Bloom|The Low Tides|Kite Parade|Honey Dialect|Moth Radio
@VENUE Apollo|Corn Exchange|Roundhouse|Old Fire Station|Union Chapel|Jazz Cellar|Town Hall
@REST Osteria Nonna|Bao Street|The Copper Pot|Sakura House|El Faro|Mezze Garden|The Ferryman
|Dosa Corner|Le Petit Zinc|Smokehouse 54|Noodle Bar Hana|The Green Fig|Casa Lupe|Pho Saigon
@FILM The Last Lighthouse|Borrowed Time|Small Hours in Tokyo|The Ferryman's Son|Red Meridian
|Quiet Water|The Glass Hotel|Night Shift|A Year Without Summer|The Understudy|Moonrise Road
@RACE the {CITY} half marathon|the Harbour 10K|the parkrun on {STREET}|the Bridge to Bridge
relay|the Hill Fell race|the Midnight 5K|the canal 20-miler|the charity fun run|the trail ultra
@PLANT tomatoes|runner beans|lavender plants|rhubarb crowns|garlic bulbs|sweet peas|dahlias
|strawberry plants|raspberry canes|courgettes|tulip bulbs|leeks|sunflowers|blueberry bushes
@CLASS pottery|Spanish|salsa|life drawing|first aid|woodwork|bread-making|photography|Italian
|climbing|watercolour|sushi-making
""")[0]
P["NAME"] = P["FIRST"] + SPEAKERS
P["CODENAME"] = tuple(f"{c} {b}".upper() for c in P["COLOR"] for b in P["BIRD"])
P["NUM"], P["PIN"] = tuple(map(str, range(10, 100))), tuple(map(str, range(1000, 10000)))
P["MM"], P["DD"] = tuple(f"{n:02d}" for n in range(1, 12)), tuple(f"{n:02d}" for n in range(1, 29))
P["DAY"], P["MONEY"] = tuple(map(str, range(1, 29))), tuple(f"${n * 50:,}" for n in range(8, 121))
_POOL = re.compile(r"\{([A-Z]{2,})\d?\}")  # {CITY}; {CITY1} and {CITY2} may differ


def _pick(r: random.Random, template: str, memo: dict[str, str] | None = None) -> str:
    """Each distinct placeholder gets one random pick, the same wherever it repeats (and in
    every template picked with the same `memo`). Picks may hold placeholders of their own."""
    memo = {} if memo is None else memo
    for _ in range(3):
        template = _POOL.sub(lambda m: memo.setdefault(m[0], r.choice(P[m[1]])), template)
    return template


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
# @state tells the fact (often in words the @ask does not use), @near mentions the subject
# without the value.
KINDS = _blocks("""
@kind wifi
@subjects the cabin|the lake house|Grandma's flat|the studio|the beach rental|the co-working
space|Aunt Ruth's place|the ski chalet|the boat shed|the garden office
@value {BIRD}-{PIN}
@state The wifi password at {s} is {v}, writing it here so we don't lose it.|Note for later:
wifi at {s} is {v}, all lowercase.|For whoever is at {s} next: the network key is {v}, the
sticker on the router is out of date.|Router login at {s} is {v}, typed it twice to be sure.
|{S}: join the network and type {v}, that's all it takes.
@ack Got it, wifi for {s}: {v}.|Noted, the network password at {s} is {v}.
@fix Actually, correction: the wifi password at {s} changed to {v}, the old one is dead.|
Heads up, the router at {s} got reset and the wifi password is now {v}.|New router at {s}, so
the key is {v} from now on; the old one won't work.
@ask What's the password for the wifi at {s}?|I need to get online at {s}, what's the key?
@para How do I get the laptop on the network at {s}?|My phone refuses to connect at {s}, what do
I type in?
@before What was the wifi password at {s} before it changed, and what is it now?
@near The wifi at {s} kept dropping all evening, we need a better router.|Remind me to stick
the wifi details for {s} on the fridge.|Does {s} have decent wifi for video calls?|The signal
at {s} is hopeless in the back bedroom, the password screen took ages to even load.|Someone
unplugged the router at {s} again and nobody owned up.|I can never remember the wifi password
at {s}, it's such a faff every time.
@kind code
@subjects the bike storage|the parking garage|Mum's building|the gym lockers|the office side
door|the allotment gate|the storage unit|the rooftop terrace
@value {PIN}{NUM}
@state The code for {s} is {v}.|Door code for {s}: {v}, don't share it around.|To get into
{s} you tap {v} and then push hard, the door sticks.|{S} opens with {v} on the keypad, the
green light takes a second.
@ack Saved: {s} opens with {v}.|Okay, {v} for {s}.
@fix They changed the code for {s}, it's {v} from today.|Correction, the code for {s} is now {v}.
|New digits for {s} after the break-in scare: {v}.
@ask Which code gets me into {s}?|What number do I punch in at {s}?
@para I'm stuck outside {s}, which digits do I tap to get through?|How does a visitor unlock
{s}?
@before What was the code for {s} originally, and what is it after the change?
@near The keypad at {s} is broken again, had to wait for someone.|Who has the fob for {s}?|The
code panel at {s} beeps at me every time, I think the battery is going.|Building management
says they might change the entry system at {s} next year.|I always mix up the code for {s}
with the one for the gym.
@kind codename
@subjects the billing rewrite|the mobile relaunch|the data warehouse migration|the onboarding
revamp|the search overhaul|the partner API|the pricing experiment|the offline mode
@value {CODENAME}
@state Our codename for {s} is {v}.|From now on {s} goes by the codename {v} in all docs.|In
tickets and slides, {s} is {v}, so the press doesn't catch on.|Internally we're calling {s}
{v}, {FIRST} picked it.
@ack Nice, {v} it is for {s}.|Noted: {s} is {v} internally.
@fix Correction: legal vetoed the old name, {s} is now codenamed {v}.|Marketing hated the first
name, so {s} is {v} from now on.
@ask What codename are we using for {s}?|What do we call {s} internally?
@para If I mention {s} in a meeting, which alias should I say?|What secret label does the team
give {s}?
@before What was the first codename for {s}, and what did it become?
@near The kickoff for {s} ran long again.|Need slides on {s} for Thursday's all-hands.|Nobody
can agree on what to call {s} in the roadmap, it's getting silly.|Half the team still uses
the old codename for {s} in their slides.|{S} slipped another sprint.
@kind appointment
@subjects {SPEAKER}'s {APPT}|Noah's {APPT}|Grandpa Joe's {APPT}
@value 2026-{MM}-{DD}
@state Just confirmed: {s} is on {v}.|{S} is booked for {v}, morning slot.|Put {v} in the
calendar for {s}, they could only do mornings.|The surgery rang back, {s} will be {v}.
@ack Okay, {s} on {v}, I'll keep it in mind.|Noted {v} for {s}.
@fix {S} got moved, it's now on {v}.|They called to reschedule: {s} is now {v}.|Had to shift
{s}, the new date is {v}.
@ask When is {s} scheduled?|What day is {s}?
@para Which date goes in the calendar for {s}?|When do we need to turn up for {s}?
@before When was {s} originally, and when is it after the reschedule?
@near I keep forgetting to check the time for {s}.|Can someone drive for {s}?|The reminder
letter for {s} came, but I haven't opened it yet.|I need to double-check the date for {s}, the
letter was vague.|Do we need to bring anything to {s}?
@kind tech
@subjects {SERVICE}
@value {TECH}
@state We decided to use {v} for {s}.|After the design review we went with {v} for {s}.|Final
call from the architecture sync: {s} will run on {v}.|{S} is going on {v}, the benchmarks
settled the argument.
@ack Good, {v} should suit {s}.|Recorded: {v} backs {s}.
@fix Change of plan: {s} will use {v} instead, the load tests were bad.|We're moving {s} over
to {v} after all, the first pick couldn't keep up.
@ask Which technology did we settle on for {s}?|What is {s} built on storage-wise?
@para What sits underneath {s} as its backing store?|Which engine powers {s} behind the scenes?
@before What did we first choose for {s}, and what did we switch to?
@near The latency graphs for {s} look weird today.|{S} needs an owner for the migration.|The
design doc for {s} still has three open questions about storage.|{FIRST} wants another
round of load tests on {s} before anything ships.|Still not convinced by the technology choice
for {s}, but it's not my call.
@kind budget
@subjects the wedding flowers|the team offsite|the kitchen renovation|Noah's birthday party|the
winter holiday|the new laptop|the garden makeover|the conference booth
@value {MONEY}
@state We agreed the budget for {s} is {v}, not a cent more.|Cap for {s}: {v} total.|For {s}
we can go up to {v} and that's it, {FIRST} signed off.|{S}: {v} max, we shook on it.
@ack Understood, {v} for {s}.|Noted, I'll flag anything for {s} that goes over {v}.
@fix Update: the budget for {s} went up to {v}.|We revised {s}, the cap is now {v}.|Found some
slack, so {s} can have {v} now.
@ask How much money did we set aside for {s}?|What can we spend on {s}?
@para What's the most we may pay for {s}?|How much cash is there to put toward {s}?
@before What was the budget for {s} at first, and what is it now?
@near Got three quotes for {s}, all wildly different.|Let's talk about {s} next week.|Costs for
{s} keep creeping up, I'm a bit worried.|Did anyone keep the receipts for {s}?|Nobody
can remember how much we said we'd spend on {s}, which is a bit worrying.
@kind allergy
@subjects {FIRST}
@value {FOOD}
@state For the dinner party: {s} is allergic to {v}.|Careful with {s}, severe {v} allergy.|{S}
can't have anything with {v} in it, they end up in hospital.|Keep {v} well away from {s}'s
plate, they carry an EpiPen for it.
@ack Thanks, I'll keep {v} off anything for {s}.|Noted, no {v} near {s}.
@ask Which food does {s} need to avoid?|What is {s} allergic to?
@para What should I leave out when I cook for {s}?|Which ingredient would make {s} ill?
@near {s} loved the dessert last time.|Is {s} coming on Saturday or not?|{S} is bringing wine
on Saturday, so that's drinks sorted.|I need to ask {s} what they can eat before I shop.|{S}
mentioned some food allergy once, I never remember which.
@kind relative
@subjects {SPEAKER}'s {KIN} {FIRST}
@value {CITY}
@state Family news: {s} moved to {v} last month.|Heard from {s}, they relocated to {v}.|{S}
has a new address in {v} now and sent us a photo of the view.
@ack Exciting, {v} is a big move for {s}.|Good to know {s} is in {v} now.
@fix Scratch that, {s} ended up in {v} instead, the first job fell through.
@ask Which city is {s} living in these days?|Where does {s} live now?
@para If we went to see {s}, where would we travel?|Which place does {s} call home now?
@before Where was {s} first said to have moved, and where do they live now?
@near {S} sent a long voice note, I still need to listen.|We should visit {s} this year.|{S}
is thinking about moving again, apparently.|I always forget which city {s} lives in these
days.|Missed a call from {s} during dinner.
@kind phone
@subjects our plumber|the babysitter|the vet clinic|the landlord|the piano teacher|the garage
@value 07{PIN1} {PIN2}{NUM}
@state Number for {s}: {v}.|Saving it here, {s} can be reached on {v}.|If you need {s},
ring {v}, they never answer texts.
@ack Got it, {s} on {v}.|Stored {v} for {s}.
@fix {S} got a new phone, the number is {v} now.|{S} changed networks, use {v} from now on.
@ask What's the phone number for {s}?|How do I ring {s}?
@para What do I dial to get hold of {s}?|Which digits call {s}?
@before What was the old number for {s}, and what's the new one?
@near {S} didn't pick up again.|Remind me to pay {s} on Friday.|{S} left a voicemail but it
cut off halfway.|I lost the card with the details for {s}.|I can never find the phone number for {s}
when I actually need it.
""")
for _kind in KINDS:
    _kind["subjects"] = tuple(x for t in _kind["subjects"] for x in _expand(t))

# Two-hop relations: the first two @ents must be unique in the corpus, the last one answers.
CHAINS = _blocks("""
@ents p={FIRST}|m={FIRST} {SURNAME}|c={CITY}
@a {p}'s manager is {m}, who apparently runs a tight ship.|Found out {p} reports to {m} now.
|{p} got moved to a new team, so {m} is the boss now.
@b {m} is based in the {c} office.|{m} works out of {c}, so calls are at odd hours.|Every
meeting with {m} is at 7am because they sit in {c}.
@ask In which city is {p}'s manager based?|Where does the person {p} reports to work?
@para Where does {p}'s boss sit day to day?
@ents p={FIRST}|j={PROJECT}|d={DAY} {MONTH} 2026
@a {p} is leading {j} from now on.|Looks like {p} will be the lead on {j}.|{j} finally has
an owner: {p} took it on.
@b Launch date for {j} is locked: {d}.|{J} ships on {d} if QA signs off.|Go-live for {j}
is pencilled in for {d}.
@ask When is the project that {p} leads supposed to launch?
@para When will the thing {p} is in charge of go live?
@ents t={CITY}|h=Hotel {SURNAME}|lm={SIGHT}|st={STREET}
@a For the {t} trip next month we're staying at {h}.|Booked {h} for our {t} trip in the spring,
great reviews.
@b {h} is on {st}, right next to the {lm}.|Directions: {h} sits on {st} by the {lm}.|The
place we picked, {h}, is on {st}, two minutes from the {lm}.
@ask What street is our hotel for the {t} trip on?
@para What's the address of where we sleep in {t}?
@ents p={FIRST}|f={FIRST} {SURNAME}|job={JOB}|co={SURNAME} Analytics
@a {p}'s old college roommate is {f}.|Turns out {f} was {p}'s roommate at uni.
@b {f} works as a {job} at {co} these days.|{f} just started as a {job} at {co}.|{f} got the
{job} job at {co}, they start Monday.
@ask Which company does {p}'s former college roommate work for?
@para Who employs the person {p} shared a dorm with?
@ents svc={SERVICE}|team={TEAM}|n={FIRST}
@a {Svc} is owned by the {team} team.|Ownership of {svc} moved to the {team} team.
@b This quarter the {team} team's on-call lead is {n}.|{n} runs {team} on-call now.|If the
{team} team gets paged, it's {n} holding the pager this quarter.
@ask Who is on call for the team that owns {svc}?
@para If {svc} breaks at 3am, who gets paged?
@ents p={NAME}|dog={DOG}|st={STREET}|v=Dr. {SURNAME}
@a {p}'s dog is called {dog}.|{p} adopted a rescue dog and named it {dog}.
@b {dog}'s vet is {v} at the clinic on {st}.|Took {dog} to {v} on {st} for jabs.|{dog} was
sick again, {v} on {st} squeezed us in.
@ask Which vet looks after {p}'s dog?
@para Which animal doctor does {p}'s pet see?
@ents p={FIRST}|bk={BOOK}|au={FIRST} {SURNAME}
@a {p} keeps recommending {bk} to everyone.|{p} lent me {bk}, says I have to read it next.
@b {bk} is by {au}, it was their debut.|Looked it up: {au} wrote {bk}.
@ask Who is the author of the novel {p} keeps recommending?
@para Who penned the book {p} won't stop talking about?
@ents job={WORKS}|co={SURNAME} Builders|pr={MONEY}
@a {Co} is doing {job}.|We hired {co} for {job}, they start in two weeks.
@b {co} quoted {pr} for the work, materials included.|The quote from {co} was {pr}.|{co} came
back with {pr} all in, which is less than I feared.
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
them with the date so the oldest get eaten first.|What goes well on the side with {DISH}? I
always end up doing rice. >> A sharp salad or something pickled cuts through a rich main nicely.
@long Get everything chopped and measured before the pan goes on, it makes timing easier.|Salt
in layers rather than all at the end, and taste as you go along.|If the sauce gets too thick,
loosen it with a splash of the cooking water.|Resting the dish for ten minutes lets the flavours
settle.|Leftovers usually keep three or four days in a sealed container in the fridge.
@pairs Looking at trains from {CITY1} to {CITY2}, the {NUM}:15 seems best. >> The {NUM}:15 gives
you slack if the connection into {CITY2} runs late.|{FIRST} keeps saying we should see {CITY}
in autumn, add it to the list? >> {CITY} is a great pick in shoulder season: fewer crowds,
cheaper rooms.|Our booking reference for the {CITY} ferry is {BIRD}-{PIN}, just so it's written
down. >> Safe to keep it here; screenshot the ticket too in case the signal drops.|The hotel in
{CITY} wants a {NUM} euro deposit, is that normal? >> Deposits like that are common in {CITY},
just check the cancellation terms.|Do we need adapters for {CITY} or is it the same plugs? >>
Worth packing one universal adapter, it saves a scramble at the airport.
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
trains everyone to ignore CI.|Standup ran {NUM} minutes today, nobody even mentioned
{SERVICE}. >> Try a hard stop and move the deep dives to a follow-up call.
@long Small, focused pull requests get reviewed faster and break less in production.|Write the
reasoning into the commit message so the next reader has context.|Measure before optimising,
the slow part is rarely where you expect.|Feature flags make it much easier to ship a risky
change gradually.|Keep the review about behaviour; formatting belongs to the tools.
@pairs It's pouring here again, {NUM} mm forecast for tomorrow. >> Sounds like a day for a
proper coat, or for the indoor jobs you keep postponing.|New deadlift PR today: {NUM} kg! >>
Nice work, keep the next sessions lighter so you recover.|{FIRST} wants to try the 6am spin
class with me. >> Early classes are easier to keep if you pack the bag the night before.|My knee
is grumbling after leg day, should I skip the run tomorrow? >> If it aches rather than hurts,
an easy bike session is usually the safer swap.|Thinking of entering {RACE} at some point, is
that mad? >> Not mad at all if you build up slowly over a few months.
@long Consistency beats intensity over a few months, so protect the easy days too.|Rest days
are when the adaptation happens, so they count as training.|Sleep does more for recovery than
any supplement on the shelf.|A short warm-up saves you weeks of niggles later.|Log your
sessions, the trend matters more than any single day.
@pairs Halfway through {BOOK} and {FIRST} was right, the middle drags. >> Middles often drag in
that kind of novel; the last third usually pays it off.|Book club picked {BOOK} for next month,
{NUM} chapters, yikes. >> {NUM} chapters over a month is about one a day, very doable.|Everyone
raves about {BOOK}, is there something like it but shorter I could start with? >> Look for a
novella with the same slow burn; fewer subplots, same mood.|Gave up on {BOOK} after {NUM} pages,
life's too short. >> Fair, nobody hands out prizes for finishing books you aren't enjoying.
@long A chapter a day adds up quickly and keeps the story fresh in your head.|Audiobooks are a
good way to get through the slow middle sections.|Book clubs work best when someone brings two
or three questions.|Rereading a favourite now and then is time well spent.|Short notes in the
margin make the discussion much easier later.
@pairs Noah has a school trip on Friday and needs a packed lunch again. >> Something that
survives a warm bag: wraps, fruit, a flapjack.|The washing machine is making that grinding
noise again. >> Check the filter at the bottom first, it is usually a coin or a hair clip.|Who
keeps leaving the back door unlocked? >> A small sign on the inside of the door works better than
you would think.|Bins go out on Tuesday this week instead of Monday, because of the bank holiday. >>
I can remind whoever is home the evening before.|Parents' evening is running late, {FIRST}
says the queue is huge. >> Worth writing your questions down so you get through them quickly.
@long A shared family calendar saves a surprising number of arguments.|Splitting chores by
day rather than by task tends to feel fairer.|Small fixes done straight away rarely turn into
big ones.|Kids cope better with changes if they hear about them a day ahead.|Keep a spare key
with a neighbour you trust.
@pairs Should the {PLANT} go in pots or straight into the bed, do you think? >> Pots are easier
to move if the spot turns out too shady.|The slugs are back and they've found the lettuce. >>
Beer traps and a night-time torch patrol are the classic answer.|{FIRST} gave us a bag of
compost, where should it go? >> Spread it round the hungriest plants first, then the beds.|The
garden centre has {PLANT} on offer this week. >> Offers at this time of year are usually
end-of-season stock, check the roots before you buy.
@long Water in the morning so the leaves dry before evening.|A thick mulch saves hours of
weeding later.|Most plants prefer a good soak twice a week to a sprinkle every day.|Write down
what you planted where, labels fade by summer.|Frost dates vary a lot, so watch the forecast.
@pairs Listening to {BAND}'s new album on repeat, it's a grower. >> Albums that grow on you
usually stay in rotation the longest.|Is {FILM} worth watching or is it all hype? >> Reviews
are split; it depends whether you like slow films.|{REST} has a new menu, has anyone tried it?
>> New menus are often a bit uneven in the first weeks.|{FIRST} says {BAND} are touring again.
>> Tour dates sell quickly, so set an alert if you're tempted.|What should we watch tonight,
nothing too long? >> A comedy under two hours is usually a safe compromise.
@long Matinee screenings are cheaper and far quieter.|Booking a table for early evening makes
it much easier to get in.|Smaller venues often have the better sound.|A short list of things to
watch saves twenty minutes of scrolling.|Live music midweek is cheaper and less crowded.
""")

# Dated events: @done tells it was done on its turn's day (@done1: the day before); @intent is
# the plan not yet carried out; @q and @ger name it in questions. @agg: the aggregate whose
# question such a turn would answer (so one speaker's such turns are all evidence or none).
EVENTS = _blocks("""
@q book the flight to {CITY}
@ger booking the flight to {CITY}
@done Quick update: I just booked the flight to {CITY}.|Flights to {CITY} are sorted, I paid
for them this morning.|Finally clicked buy on the plane tickets to {CITY} today, aisle seats.
@done1 Booked the {CITY} flights last night before the price went up again.
@intent I still need to book the flight to {CITY}, remind me later this week.|Should I book the
{CITY} flights now or wait for a better price?|Flights to {CITY} went up again, I'll leave it.
@after The airline moved our {CITY} flight by two hours, annoying but fine.|Do we need to print
anything for the {CITY} flight or is the app enough?
@q sign the lease for the flat on {STREET}
@ger signing the lease for the flat on {STREET}
@done Done! I finally signed the lease for the flat on {STREET} this morning.|The flat on
{STREET} is ours, contract signed an hour ago.
@done1 Put my name on the {STREET} rental contract yesterday, it's official.
@intent Not yet: I haven't managed to sign the lease for the flat on {STREET}, maybe at the
weekend.|The agent keeps chasing me about the {STREET} lease, I haven't signed anything.
@after The flat on {STREET} needs a proper clean before anything goes in.|Who do we tell about
the change of address now that the {STREET} flat is happening?
@q order the new {PRODUCT}
@ger ordering the new {PRODUCT}
@done Ticked one off the list today: ordered the new {PRODUCT}.|The {PRODUCT} is on its way, I
placed the order at lunch.
@done1 Went for it last night and ordered the {PRODUCT}, delivery next week.
@intent Should I order the new {PRODUCT} now or wait for the sales?|Still dithering about the
{PRODUCT}, the reviews are all over the place.
@after Where is the new {PRODUCT} even going to go? We're short on space.|The tracking for the
{PRODUCT} hasn't moved in three days.
@q submit the visa application for {CITY}
@ger submitting the visa application for {CITY}
@done Quick update: I just submitted the visa application for {CITY}.|The {CITY} visa
paperwork is in, submitted it online this morning.
@done1 Sent off the visa forms for {CITY} yesterday, fingers crossed.
@intent I still need to submit the visa application for {CITY}, the photos are wrong size.
@after Any idea how long the {CITY} visa usually takes to come back?|The embassy for {CITY}
emailed asking for a bank statement, nothing major.
@q send the offer letter to {FIRST} {SURNAME}
@ger sending the offer letter to {FIRST} {SURNAME}
@done Done! I finally sent the offer letter to {FIRST} {SURNAME} this morning.|{FIRST}
{SURNAME} has the offer in their inbox now, I sent it before lunch.
@done1 The offer for {FIRST} {SURNAME} went out last night, just waiting on a signature.
@intent Should I send the offer letter to {FIRST} {SURNAME} now or wait for HR?|Legal still
hasn't cleared the offer for {FIRST} {SURNAME}, so it's not sent.
@after {FIRST} {SURNAME} asked about the start date, I said I'd check.|Need a desk and a laptop
ready for {FIRST} {SURNAME} before they start.
@q finish reading {BOOK}
@ger finishing {BOOK}
@agg books
@done Ticked one off the list today: finished reading {BOOK}.|Turned the last page of {BOOK}
on the bus this morning.
@done1 Stayed up far too late last night finishing {BOOK}.
@intent I still need to finish reading {BOOK} before book club, remind me later this week.
@after Book club is arguing about {BOOK} already, I'm staying out of it.
@q pay the deposit for the venue in {CITY}
@ger paying the deposit for the venue in {CITY}
@done Quick update: I just paid the deposit for the venue in {CITY}.|The {CITY} venue is
secured, the deposit went through this morning.
@done1 Transferred the venue deposit for {CITY} last night, we're locked in.
@intent Should I pay the deposit for the venue in {CITY} now or wait for the second quote?
@after The venue in {CITY} wants final numbers by the end of the month.|Do we know if the {CITY}
venue does its own catering or do we need to sort that?
@q renew the car insurance with {SURNAME} Direct
@ger renewing the car insurance with {SURNAME} Direct
@done Renewed the car insurance with {SURNAME} Direct today, it went up again of course.
@done1 Sat on hold for an hour last night but the {SURNAME} Direct car cover is renewed.
@intent The car insurance with {SURNAME} Direct runs out soon, I still need to renew it.
@after The new certificate from {SURNAME} Direct hasn't arrived yet, should I chase it?
@q cancel the gym membership at {SURNAME} Fitness
@ger cancelling the gym membership at {SURNAME} Fitness
@done Finally cancelled the gym membership at {SURNAME} Fitness this morning, no more fees.
@done1 Phoned {SURNAME} Fitness yesterday and the membership is cancelled, took three tries.
@intent I keep meaning to cancel the gym membership at {SURNAME} Fitness and keep forgetting.
@after {SURNAME} Fitness keep emailing offers to win me back, unsubscribing now.
""")

# Aggregates: what one person did of one sort, told in different sessions. {x} an item (one
# pick of @item each, all different), {p} the person. @yes: the person did it (said by them);
# @yes3: someone else did it (told about a friend); @no: the person's plans, cancellations and
# near things that do not count; @no3: the same about a friend.
AGGS = _blocks("""
@agg trips
@item {CITY}
@yes Back from my trip to {x} last night, the {SIGHT} alone was worth it.|Spent the long weekend
visiting {x}, I must have walked twenty kilometres a day.|Still recovering from the {x} trip,
what a place, I'd go back tomorrow.|Got home from visiting {x} yesterday, the food there was
unreal and cheap too.|The {x} trip was grey and rainy all four days and I still loved every
minute.|Flew back from {x} this morning, what a city, the {SIGHT} at sunrise was something else.
@yes3 {FIRST} is back from {x} and won't stop showing us photos of the {SIGHT}.|{FIRST} spent a
week visiting {x} and came home with a suitcase full of coffee.
@no Thinking about a few days in {x} in the spring, has anyone been?|I was supposed to go to {x}
this week but the whole trip got cancelled.|Never made it to {x} in the end, the rail strike
wrecked the plan.|Looking at flights to {x} for Easter, the prices are silly.
@no3 {FIRST} keeps talking about visiting {x} one day.|{FIRST} had to cancel the trip to {x},
work got in the way.
@ack Welcome back! Did you manage to rest at all?|Sounds like a brilliant trip, glad you got
away for a bit.|Lovely, it's good to get a change of scene now and then.
@ask Which cities has {p} visited?|Where has {p} travelled on trips these months?|What places
has {p} visited on their travels?
@agg guests
@item {DISH}
@yes Made {x} for {FIRST} and {FIRST2} on Saturday, not a crumb left.|Had the neighbours round
for dinner and cooked {x}, it went down really well.|Cooked {x} for {FIRST}'s birthday dinner,
took all afternoon but worth it.|Our guests last night polished off the whole pot of {x}, I'm
weirdly proud.|Did {x} when {FIRST}'s family came over, everyone had seconds.
@yes3 {FIRST} cooked {x} for us when we went round, honestly restaurant level.|{FIRST} made {x}
for the whole book club on Thursday.
@no Was going to cook {x} for the guests but ran out of time and ordered pizza.|Thinking of {x}
when {FIRST} comes over for dinner, or is that too much work?|{X} for one tonight, nothing fancy,
just me and the telly.|Burnt the {x} before anyone arrived, so it went in the bin and we had
takeaway.
@no3 {FIRST} says {x} is the one dish they'd never cook for guests.|{FIRST} wants to learn
{x} before their next dinner party.
@ack Sounds like a lovely evening, your guests are lucky.|Nothing beats a full table, glad it
went well.|That's a proper feast, well done.
@ask What dishes has {p} cooked for guests?|What has {p} cooked when people came over for
dinner?|Which meals has {p} made for dinner guests?
@agg books
@item {BOOK}
@yes Finished {x} last night, that ending floored me.|Read {x} cover to cover this weekend,
couldn't put the book down.|Done reading {x} at last, the book is going straight to the charity
shop.|Finally finished reading {x} on the train, not sure how I feel about that twist.
@yes3 {FIRST} finished {x} in two days and says it's the best book they've read all year.|
{FIRST} read the whole of {x} on holiday.
@no {X} is next on my reading pile, once I find the time.|Gave up on {x} halfway, too slow for
me.|Started {x} but I'm only {NUM} pages in.|Bought {x} at the station, haven't opened it yet.
@no3 {FIRST} bought {x} but hasn't opened it yet.|{FIRST} abandoned {x} after the first
chapter.
@ack Nice, one more off the reading list.|A good ending makes the whole book, glad it landed.
|That's quick going, what's next on the pile?
@ask Which books has {p} finished?|What books has {p} read all the way through?|Which novels did
{p} finish reading?
@agg gigs
@item {BAND}
@yes Saw {x} live at the {VENUE} last night, my ears are still ringing.|{X} were incredible
live, the concert went on for nearly three hours.|Went to the {x} gig on Friday, best crowd
I've been in for years.|Caught {x} at the {VENUE}, the support band was better than expected
too.
@yes3 {FIRST} went to see {x} live and says the encore was unreal.|{FIRST} caught {x} at the
{VENUE} and lost their voice singing along.
@no Tickets for the {x} gig sold out before I got through the queue.|{X} cancelled the
concert, so annoying, I'd been looking forward to it.|Should I get tickets to see {x} in the
spring?
@no3 {FIRST} wanted to see {x} live but couldn't get a babysitter.|{FIRST} has been playing
{x} nonstop in the car.
@ack Sounds like a great night out.|Live music is hard to beat, glad it was worth it.|Nothing
like a good gig to reset the week.
@ask Which bands has {p} seen live?|Which live gigs has {p} been to?|Which bands has {p} seen in
concert?
@agg restaurants
@item {REST}
@yes Had dinner at {x} last night, the restaurant was slow but the food was great.|Tried the new
restaurant {x} for lunch, the portions are enormous.|We had our anniversary meal at {x}, pricey
but lovely.|Grabbed a meal at {x} after work, their bread alone is worth the trip.
@yes3 {FIRST} had dinner at {x} with their sister and loved it.|{FIRST} had lunch at {x} and
says the restaurant is worth the hype.
@no Booked a table at {x} for Friday, fingers crossed it's as good as people say.|Went to {x}
but the restaurant was shut, had to get a kebab instead.|Walked past {x} again, the queue was
out the door.
@no3 {FIRST} keeps recommending the restaurant {x}.|{FIRST} tried to get a table at {x} and
failed.
@ack Good food and no washing up, perfect.|Always nice to find a new favourite.|Sounds like a
treat, worth remembering for next time.
@ask Which restaurants has {p} eaten at?|Where has {p} been out for a meal?|Which restaurants has
{p} had a meal at?
@agg films
@item {FILM}
@yes Saw {x} at the cinema last night, the score was gorgeous.|Watched {x} on the big screen,
the whole room was silent at the end.|Went to the late showing of {x}, totally worth staying up
for a film that long.|Finally saw the film {x} at the pictures, the popcorn cost more than the
ticket.
@yes3 {FIRST} saw {x} twice at the cinema and cried both times.
@no The trailer for {x} looks amazing, want to go?|Missed {x} at the cinema, it only ran for a
week.|{X} is on my watch list, maybe at the weekend.
@no3 {FIRST} says the film {x} is overrated and walked out halfway.
@ack Sounds like a good night at the pictures.|Big screen films hit differently.|Nice, it's
been ages since I heard anyone rave about a film like that.
@ask Which films has {p} seen at the cinema?|What films has {p} watched on the big screen?
@agg races
@item {RACE}
@yes Ran {x} this morning, {NUM} minutes, a new best for a race that long!|Crossed the finish line
at {x}, legs are jelly but what a race.|Did {x} at the weekend, the last hill of the race nearly
finished me off.|Finished {x} in the pouring rain, my slowest race ever but the medal is on the
fridge.
@yes3 {FIRST} ran {x} and beat their best time by a mile.
@no Signed up for {x} in the spring, slightly terrified.|Pulled out of {x}, my knee wasn't having
it.|Thinking about entering {x} next year, if the training goes well.
@no3 {FIRST} is training for {x}, up at five every day.
@ack Brilliant effort, make sure you rest properly.|Congratulations, that's a real achievement.
|Well done, eat something good and put your feet up.
@ask Which races has {p} taken part in?|What races has {p} run?|Which running races has {p}
done?
@agg garden
@item {PLANT}
@yes Got the {x} planted in the garden this afternoon, fingers crossed for no frost.|Planted
{x} along the back fence today, my back is killing me.|The {x} are finally planted out in the
bed by the shed.|Spent the whole morning in the garden putting in {x}, the soil was like concrete.
@yes3 {FIRST} planted {x} in their allotment and gave us the spares.
@no Thinking about {x} for the sunny corner of the garden next year.|The slugs got to the {x}
before I could plant them out.|The garden centre had {x} but I didn't get any.
@no3 {FIRST} swears {x} never grow in their garden.
@ack Lovely, the garden is really coming together.|Good work, they should settle in fast.|Nice,
let me know how they do.
@ask What has {p} planted in the garden?|Which plants has {p} put in the garden?
@agg classes
@item {CLASS}
@yes First {x} class tonight was brilliant, already hooked.|Did a one-day {x} course on
Saturday, came home buzzing.|The {x} course wrapped up today, I even got a certificate.|Went to
my {x} class after work, the teacher is brilliant.
@yes3 {FIRST} did a {x} course and now won't stop talking about it.
@no The {x} course is full, I'm on the waitlist.|Thinking of trying a {x} class in the new year.
|Missed the {x} taster session, the bus never came.
@no3 {FIRST} wants me to come to {x} classes with them, not sure.
@ack Learning something new is good for you, enjoy it.|Sounds fun, a whole new skill.|That's
great, it's nice to have something just for you.
@ask Which classes has {p} taken?|What courses and classes has {p} done?|Which classes or courses
has {p} been to?
""")
M = _blocks("""
@done_ack Nice, that's one big thing off the list! Want me to note what comes next?|Great news,
well done. Shall I set a reminder for the next step?|Good, that's been hanging over you for a
while. Anything else that depends on it?
@when On what date did {p} {what}?|When exactly did {p} {what}?|Remind me, when did {p}
{what}?
@order Which happened first: {a} or {b}?|Which came earlier, {a} or {b}?
@ack Got it, I'll keep that in mind next time it comes up.|Noted, I've saved that so you don't
have to remember it yourself.|Thanks, that's useful context for later.|Good to know, I'll remember
that if anyone in the household asks.
@reply Want me to add that to your reminders for later this week?|Okay, noted. Tell me if you want
me to follow up on it.|Sounds like a plan, let me know if anything changes.|Happy to help with that
whenever you're ready to go through it.|Fair enough, let me know how it goes and we can adjust.
|That makes sense. Do you want me to look into it a bit more, or leave it for now?|Understood,
there's no rush on my side, we can pick it up whenever suits you.
@also Also:|Separate thing:|Before I forget:|And another thing:|Oh, one more thing:|Other news:
@tail I'll keep that handy for whenever you need it.|Just ask if you need it again later.|I've
added it to your notes.|Shout if anything about it changes.|Anything else on your list today?
@extra No rush on this, just thinking out loud.|{FIRST} mentioned something similar yesterday,
funnily enough.|Anyway, more on that later this week.|Let me know what you think when you get a
chance.|Writing it here because my own notes are a mess.|Sorry, it's been a long day.|The kids
were up at five again so I'm running on coffee.|Typing this on my phone on the bus, excuse the
typos.|It's been one of those weeks where everything happens at once.|Work has been manic,
so sorry if I'm slow to reply to everyone.|We finally sorted the recycling rota, small
victories.|Noah has a cold again, so the whole house is coughing.|The train was cancelled this
morning and I ended up working from the kitchen table.|I should really put all of this in one
shared note at some point.|I'll probably ask you
about it again, my memory is hopeless lately.|Also, we're nearly out of milk, someone grab some
on the way home.|The heating's playing up again, so I'm wrapped in a blanket writing this.|Not
urgent, but I didn't want to forget it.|{FIRST} says hi, by the way.|Half the office is off sick
this week, so everything is slow.|The dog has been barking at the postman all morning.
@greet Morning! I've got a few things to go through today.|Hey, just a quick session before
dinner if that's okay.|Hi again, picking up where we left off last time.|Morning, got a few
minutes? A handful of things to sort out.|Hi again, quick one before I head out.|Evening! Long
day, but let's get through the list.|Hey, {n} here, have you got a minute?
@hello Good to hear from you, what's first?|Hello! Go ahead, I'm listening.|Hi there, happy to
help. What's on the list?|Good to see you again. Where shall we start?|Hi {n}! What can I do
for you today?
@chime Jumping in here: I'd rather wait until the weekend before deciding.|Agreed, let's just do
that and stop overthinking it.|Same, I was about to say exactly that, go for it.|Hang on, didn't
we already talk about this last week? I'm fine either way though.
@long Happy to think this through with you step by step, there is no rush at all.|The main
trade-off is time now against flexibility later, and both are reasonable choices.|If it helps,
I can turn this into a short checklist you can tick off over the week.|Most people underestimate
how long the small steps take, so leave yourself some buffer.|It is worth writing down what you
decide so nobody has to remember it in three months.|Let me know what constraints I am missing
and I will adjust the plan accordingly.|None of this has to be perfect the first time round.
|Sometimes the simplest option is the right one, even if it feels like a compromise.|A quick
chat with everyone involved usually saves a lot of back and forth later.
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
    outdated: tuple[str, ...] = ()  # a corrected fact's earlier values
    subject: str = ""  # a planted fact's subject


def _fmt(template: str, **kw: str) -> str:
    kw.update({k[0].upper() + k[1:]: v[0].upper() + v[1:] for k, v in kw.items() if v})
    return template.format(**kw)


def _day(turn: Turn, days_before: int = 0) -> str:
    return (turn.created_at.date() - timedelta(days=days_before)).isoformat()


@dataclass(slots=True)
class _Event:
    key: Key
    who: str
    what: str  # 'book the flight to Porto'
    doing: str  # 'Tom booking the flight to Porto'
    days_before: int  # told the day after (@done1)


@dataclass(slots=True)
class _Plan:
    r: random.Random
    free: list[list[int]]  # free pair slots per session, shuffled
    placed: dict[Key, _Unit] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    asked: set[str] = field(default_factory=set)  # aggregates asked: "agg:trips:Tom"
    told: list[tuple[Block, str]] = field(default_factory=list)  # (fact kind, subject) told

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

    def say(self, template: str, **kw: str) -> str:
        """A template with its pool placeholders picked and its fields filled."""
        return _fmt(_pick(self.r, template), **kw)

    def pad(self, text: str, extra: str = "extra", p: float = 0.85) -> str:
        """Mostly one or two more everyday sentences, so that turns are not all bare facts."""
        r = self.r
        n = 0
        while r.random() < p:
            n, p = n + 1, p / 2
        return " ".join([text, *(_pick(r, x) for x in r.sample(M[extra], n))])

    def aside(self, text: str, p: float = 0.5) -> str:
        """Sometimes another matter in the same turn, before or after (people batch things)."""
        r = self.r
        if r.random() >= p:
            return text
        if r.random() < 0.5:
            kind = r.choice(KINDS)
            other = self.say(r.choice(kind["near"]), s=r.choice(kind["subjects"]))
        else:
            other = _pick(r, r.choice(r.choice(TOPICS)["pairs"])).split(" >> ")[0]
        first, then = (other, text) if r.random() < 0.5 else (text, other)
        return f"{first} {r.choice(M['also'])} {then}"

    def put(self, text: str, session: int, reply: str, who: str = "") -> Key:
        key = (session, self.free[session].pop())
        text = self.pad(self.aside(text))
        unit = _Unit(text, who or self.r.choice(SPEAKERS), self.pad(reply, "tail"))
        self.placed[key] = unit
        return key

    def claim(self, *names: str) -> bool:
        if any(n in self.used for n in names):
            return False
        self.used.update(names)
        return True

    def qualifies(self, tag: str) -> bool:
        """May a turn that would answer aggregate `tag` be told? Only if it is not asked
        (its evidence is fixed); it then can never be asked."""
        if tag in self.asked:
            return False
        self.used.add(tag)
        return True

    def fact(self, mode: str) -> _Spec | None:
        """mode: plain (asked with its subject's words) | para (asked in other words) | current
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
        self.told.append((kind, subj))
        values = [_pick(r, kind["value"][0])]
        ack = self.say(r.choice(kind["ack"]), s=subj, v=values[0])
        ack = ack if r.random() < 0.6 else r.choice(M["ack"])
        keys = [self.put(self.say(r.choice(kind["state"]), s=subj, v=values[0]), ss[0], ack)]
        for session in ss[1:]:  # each correction in a later session, to a new value
            v = values[-1]
            while v in values:
                v = _pick(r, kind["value"][0])
            values.append(v)
            fix = self.say(r.choice(kind["fix"]), s=subj, v=v)
            ack = self.say(r.choice(kind["ack"]), s=subj, v=v)
            keys.append(self.put(fix, session, ack if r.random() < 0.6 else r.choice(M["ack"])))
        for near in r.sample(kind["near"], r.randint(1, 3)):  # same subject, no value
            if ss := self.sessions(1):
                self.put(self.say(near, s=subj), ss[0], r.choice(M["reply"]))
        first, now = values[0], values[-1]
        if mode == "before":
            q = _fmt(r.choice(kind["before"]), s=subj)
            return _Spec("temporal", q, keys, lambda _: f"before: {first}; now: {now}")
        question = _fmt(r.choice(kind["para" if mode == "para" else "ask"]), s=subj)
        label = {"plain": "single_hop", "para": "paraphrase", "current": "update"}[mode]
        return _Spec(label, question, keys[-1:], lambda _: now, tuple(values[:-1]), subj)

    def chain(self, hops: str = "ab", para: bool = False) -> _Spec | None:
        """Two facts told in different sessions, asked as one question (in other words: para)."""
        r = self.r
        ch = r.choice(CHAINS)
        e = {k: _pick(r, v) for k, v in (x.split("=", 1) for x in ch["ents"])}
        names = list(e)
        words = [w for v in e.values() for w in v.split() if w[0].isupper()]
        if len(words) != len(set(words)):  # 'Freya Abebe was Freya's roommate': pick again
            return None
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

    def event(self, session: int | None = None) -> _Event | None:
        """'I just did X' (or 'did X last night'), dated by its turn."""
        r = self.r
        ev = r.choice(EVENTS)
        memo: dict[str, str] = {}
        what, doing = _pick(r, ev["q"][0], memo), _pick(r, ev["ger"][0], memo)
        if session is None:
            ss = self.sessions(1)
            session = ss[0] if ss else 0
        who = r.choice(SPEAKERS)
        if not self.free[session] or not self.claim(f"event:{what}"):
            return None
        if ev.get("agg") and not self.qualifies(f"agg:{ev['agg'][0]}:{who}"):
            return None
        earlier = [i for i in range(session + 1) if self.free[i]]
        if earlier and r.random() < 0.7:  # the undone plan, told earlier: a near miss
            intent = _pick(r, r.choice(ev["intent"]), memo)
            self.put(intent, r.choice(earlier), r.choice(M["reply"]), who)
        if not self.free[session]:
            return None
        days_before = int(r.random() < 0.35)
        done = _pick(r, r.choice(ev["done1" if days_before else "done"]), memo)
        key = self.put(done, session, r.choice(M["done_ack"]), who)
        for after in r.sample(ev["after"], r.randint(0, len(ev["after"]))):  # follow-ups
            later = [i for i in range(session + 1, len(self.free)) if self.free[i]]
            if later:
                self.put(_pick(r, after, memo), r.choice(later), r.choice(M["reply"]))
        return _Event(key, who, what, f"{who} {doing}", days_before)

    def temporal(self) -> _Spec | None:
        r = self.r
        x = r.random()
        if x < 0.25:
            return self.fact("before")
        if x < 0.55:
            ev = self.event()
            if ev is None:
                return None
            q = r.choice(M["when"]).format(p=ev.who, what=ev.what)
            back = ev.days_before
            return _Spec("temporal", q, [ev.key], lambda t: _day(t[0], back))
        ss = self.sessions(2)
        if ss is None:
            return None
        r.shuffle(ss)
        a, b = self.event(ss[0]), self.event(ss[1])
        if a is None or b is None:
            return None
        ga, gb, ba, bb = a.doing, b.doing, a.days_before, b.days_before
        if x < 0.8:

            def order(t: list[Turn]) -> str:
                (d1, g1), (d2, g2) = sorted([(_day(t[0], ba), ga), (_day(t[1], bb), gb)])
                return f"{g1} ({d1}) came before {g2} ({d2})"

            q = r.choice(M["order"]).format(a=ga, b=gb)
            return _Spec("temporal", q, [a.key, b.key], order)

        def days(t: list[Turn]) -> str:
            da = t[0].created_at.date() - timedelta(days=ba)
            db = t[1].created_at.date() - timedelta(days=bb)
            return f"{abs((db - da).days)} days ({da.isoformat()} and {db.isoformat()})"

        q = f"How many days passed between {ga} and {gb}?"
        return _Spec("temporal", q, [a.key, b.key], days)

    def aggregate(self) -> _Spec | None:
        """Three or four things one speaker did, told in as many sessions, asked together;
        with plans, cancellations and other people's doings of the same sort around them."""
        r = self.r
        ag, p = r.choice(AGGS), r.choice(SPEAKERS)
        n = r.choice((3, 4, 4))  # four twice as often as three
        tag = f"agg:{ag['agg'][0]}:{p}"
        ss = self.sessions(n)
        if ss is None or tag in self.used:
            return None
        self.used.add(tag)
        self.asked.add(tag)
        items: list[str] = []
        while len(items) < n + 4:
            item = _pick(r, ag["item"][0])
            if item not in items:
                items.append(item)
        self.used.update(f"item:{x}" for x in items[:n])
        yes = r.sample(ag["yes"], n) if len(ag["yes"]) >= n else r.choices(ag["yes"], k=n)
        keys = [
            self.put(self.say(y, x=x), s, r.choice(ag["ack"]), p)
            for y, x, s in zip(yes, items[:n], ss, strict=True)
        ]
        for x in items[n : n + r.randint(2, 4)]:  # same sort of thing, does not count
            near = self.sessions(1)
            if near is None:
                break
            y = r.random()
            other = [q for q in SPEAKERS if q != p and f"agg:{ag['agg'][0]}:{q}" not in self.asked]
            if y < 0.5:  # the speaker's plan, cancellation, ...
                self.put(self.say(r.choice(ag["no"]), x=x), near[0], r.choice(M["reply"]), p)
            elif y < 0.7 and other:  # another speaker did it
                q = r.choice(other)
                self.qualifies(f"agg:{ag['agg'][0]}:{q}")
                self.put(self.say(r.choice(ag["yes"]), x=x), near[0], r.choice(ag["ack"]), q)
            else:  # a friend did it, or not
                line = r.choice(ag["yes3"] + ag["no3"])
                self.put(self.say(line, x=x), near[0], r.choice(M["reply"]))
        question = _fmt(r.choice(ag["ask"]), p=p)
        answer = ", ".join(items[:n])
        return _Spec("aggregate", question, keys, lambda _: answer)

    def filler(self, topics: list[Block]) -> _Unit:
        r = self.r
        who = r.choice(SPEAKERS)
        x = r.random()
        if x < 0.2:  # a fact subject comes up again (mostly the household's own), no value
            kind, subj = r.choice(KINDS), ""
            if self.told and r.random() < 0.7:
                kind, subj = r.choice(self.told)
            text = self.say(r.choice(kind["near"]), s=subj or r.choice(kind["subjects"]))
            return _Unit(self.pad(text, p=0.7), who, self.pad(r.choice(M["reply"]), "long"))
        if x < 0.28:  # a plan never carried out
            ev = r.choice(EVENTS)
            memo: dict[str, str] = {}
            if f"event:{_pick(r, ev['q'][0], memo)}" not in self.used:
                text = self.pad(_pick(r, r.choice(ev["intent"]), memo))
                return _Unit(text, who, self.pad(r.choice(M["reply"]), "long"))
        if x < 0.36:  # chat about the sorts of things aggregates ask, never counting
            ag = r.choice(AGGS)
            x_item = _pick(r, ag["item"][0])
            if f"item:{x_item}" not in self.used:
                line = r.choice(ag["no"] + ag["yes3"] + ag["no3"])
                text = self.pad(self.say(line, x=x_item))
                return _Unit(text, who, self.pad(r.choice(M["reply"]), "long"))
        topic = r.choice(topics)
        user, reply = _pick(r, r.choice(topic["pairs"])).split(" >> ")
        unit = _Unit(self.pad(user, p=0.6), who, self.pad(reply, "long", 0.7))
        y = r.random()
        if y < 0.2:
            unit.reply = " ".join(r.sample(topic["long"] + M["long"], r.randint(6, 10)))
        elif y < 0.27:
            unit.reply, unit.reply_name = r.choice(M["chime"]), r.choice(SPEAKERS)
            unit.speaker = r.choice([s for s in SPEAKERS if s != unit.reply_name])
        return unit


def generate(seed: int = 7, sessions: int = 24, turns_per_session: int = 40) -> Corpus:
    """About turns/15 questions, in the shares of KIND_SHARES."""
    if sessions < 4 or turns_per_session < 4:
        raise ValueError("need at least 4 sessions of 4 turns")
    r = random.Random(seed)
    pairs = (turns_per_session + 1) // 2  # (user, reply) pairs; slot 0 opens the session
    plan = _Plan(r, [r.sample(range(1, pairs), pairs - 1) for _ in range(sessions)])
    n_q = max(len(KINDS_ASKED), sessions * pairs * 2 // 15)
    shares = [k for k in KINDS_ASKED for _ in range(KIND_SHARES[k])]
    quota = [shares[i * len(shares) // n_q] for i in range(n_q)]
    r.shuffle(quota)
    build: dict[str, Callable[[], _Spec | None]] = {
        "single_hop": lambda: plan.fact("plain"),
        # Mostly one fact in other words; some two-hop questions in other words too.
        "paraphrase": lambda: plan.fact("para") if r.random() < 0.7 else plan.chain(para=True),
        "multi_hop": plan.chain,
        "temporal": plan.temporal,
        "update": lambda: plan.fact("current"),
        "aggregate": plan.aggregate,
    }
    specs: list[_Spec] = []
    for kind in quota:
        spec = next((s for s in (build[kind]() for _ in range(20)) if s is not None), None)
        if spec is not None:
            specs.append(spec)
    for _ in range(n_q // 8):  # decoys: the same kinds of facts, hops and events, never asked
        plan.fact(r.choice(["plain", "plain", "current"]))
        plan.chain(r.choice(["a", "b", "ab"]))
        plan.chain("b")  # the relation a two-hop question ends on, about someone else
        plan.chain("b")
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
                    _fmt(r.choice(M["hello"]), n=lead),
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
        answer = sp.answer(ev)
        questions.append(
            Question(f"q{i + 1:03d}", sp.kind, sp.text, ids, answer, sp.outdated, sp.subject)
        )
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
