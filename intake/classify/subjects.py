"""Who is complained about: roster names and forms of address, post words, places.

A township or village post with no place named is read as the round's own; a post right
after another named township, village or county is an outside official; so are county,
city and higher posts. Roster forms ("李书记", "老王主任", "东岭村支书", "建国书记") resolve
to a named member.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, replace

from intake.classify import OFFICIAL_ROLES, sounds
from intake.classify.text import Prepared
from intake.round import RosterMember, Round
from intake.rules import RuleSet

_PUNCT = "，,。；;！？!?\n"
# Characters that are words of their own far more often than parts of a name.
_FILLER = frozenset("的了是在和有被把给让也都就还又说要去来到这那个们吗呢吧啊与及或")
# Words before a post that make it a former one's ("时任镇长", "原镇长", "前任书记").
_FORMER = re.compile(r"(?:原|时任|前任|曾任|退休的?)(?:该|本)?$")
# A township institution right before a post ("镇中心学校党总支书记"): the post is its own.
_INSTITUTION_END = re.compile(r"(?:学校|小学|中学|卫生院|幼儿园|中心|站|所)(?:原)?$")
# The score of a roster name matched by sound: shown to staff as a guess to confirm.
SOUND_SCORE = 0.7
# The keys of posts.yaml `contexts`.
CONTEXTS = ("referral_before", "referral_after", "counterpart_before", "institution_before",
            "header", "first_person", "unnamed_local", "witness_before", "witness_after",
            "body", "answer_after", "elsewhere_before", "channel_after", "dependent_after",
            "reporter_before", "reporter_after")


@dataclass(frozen=True)
class Mention:
    """A person or post found in the text; positions in the prepared text."""

    start: int
    end: int
    text: str
    name: str
    post: str
    role: str
    score: float
    roster: bool = False
    by_sound: bool = False  # a roster name matched by how it sounds ("李剑国" for 李建国)
    # Named to say whose relative or driver someone is ("kin": "钟书记的侄子"; still the one
    # a complaint to the team is about) or whose standing someone trades on ("standing":
    # "仗着乡长的名头"; not the accused).
    possessor: str = ""
    by_post: bool = False  # a post word resolved to the one roster member holding it


class SubjectFinder:
    """Finds subjects in text under one round; everything compiled once."""

    def __init__(self, round: Round, rules: RuleSet) -> None:
        self._roster = round.roster
        self._round_places = tuple(sorted(
            {*round.unit.places, *round.unit.subordinates}, key=len, reverse=True))
        self._subordinates = frozenset(round.unit.subordinates)
        self._county = round.unit.county
        suffixes = sorted(rules.place_suffixes, key=len, reverse=True)
        stop = re.escape(rules.not_name_end)
        boundary = re.escape(rules.place_boundary)
        suffix_alt = "(?:" + "|".join(map(re.escape, suffixes)) + ")"
        # Another place: a 2–3 character name right after a boundary (start, punctuation,
        # a higher place, a function word: "在白石镇", "临川县白石镇石门村"), or a code ("K8县").
        self._place = re.compile(
            rf"(?:(?<=[{boundary}])|(?<![\u4e00-\u9fff]))"
            rf"(?:[A-Z][0-9]{{0,2}}|[\u4e00-\u9fff]{{2,3}}?(?<![{stop}]))"
            + suffix_alt + "(?![民里级务场域城])"
        )
        self._round_re = re.compile("|".join(map(re.escape, self._round_places)))
        self._suffixes = tuple(suffixes)
        self._stop_before = rules.not_name_end_before
        self._not_names = tuple(rules.not_place_names)
        # A post word ending in 长 does not end where 长期 begins ("收费站长期收费"), while
        # "任镇长期间" still names the post.
        self._posts = tuple((re.compile(f"(?:{p.pattern})(?!(?<=长)期(?!间))"), p.role, p.level,
                             p.village_role) for p in rules.posts)
        self._variants = self._roster_variants(round, rules)
        names = sorted(self._variants, key=len, reverse=True)
        self._roster_re = re.compile("|".join(map(re.escape, names))) if names else None
        self._sound_re = self._sound_pattern(round, rules)
        self._not_before = tuple(rules.not_subject_before)
        self._not_after = tuple(rules.not_subject_after)
        # A context the rules leave out matches nothing.
        ctx = {k: re.compile(rules.subject_contexts.get(k, r"(?!x)x")) for k in CONTEXTS}
        self._referral_before = ctx["referral_before"]
        self._referral_after = ctx["referral_after"]
        self._counterpart = ctx["counterpart_before"]
        self._institution = ctx["institution_before"]
        self._header = ctx["header"]
        self._first_person = ctx["first_person"]
        self._local = ctx["unnamed_local"]
        self._witness_before = ctx["witness_before"]
        self._witness_after = ctx["witness_after"]
        self._body = ctx["body"]
        self._answer_after = ctx["answer_after"]
        self._elsewhere = ctx["elsewhere_before"]
        self._channel_after = ctx["channel_after"]
        self._reporter_before = ctx["reporter_before"]
        self._reporter_after = ctx["reporter_after"]
        self._dependent_after = ctx["dependent_after"]
        self._surnames = frozenset(rules.surnames)
        self._titles = tuple(rules.titles)

    # --- building --------------------------------------------------------------------

    def _roster_variants(self, round: Round, rules: RuleSet) -> dict[str, list[tuple]]:
        """Every written form of each roster member → [(member, score, is_full_name)]."""
        variants: dict[str, list[tuple]] = {}

        def add(form: str, member: RosterMember, score: float, full: bool = False) -> None:
            entries = variants.setdefault(form, [])
            if all(m is not member for m, _, _ in entries):
                entries.append((member, score, full))

        for member in round.roster:
            add(member.name, member, 1.0, True)
            titles = [t.title for t in rules.titles if any(w in member.post for w in t.found_in)]
            surname, given = member.name[:1], member.name[1:]
            for title in titles:
                # "葛副镇长", "焦副书记": the deputy's own title as people say it.
                said = [title, "副" + title] if "副" + title in member.post else [title]
                for prefix in (surname, "老" + surname, "小" + surname):
                    for form in said:
                        add(prefix + form, member, 0.85)
                if len(given) >= 2:
                    add(given + title, member, 0.85)
                if member.place:
                    add(member.place + title, member, 0.9)
                    add(member.place + "的" + title, member, 0.9)
                    add(member.place + surname + title, member, 0.95)
            for part in re.split(r"[、，,/]", member.post):
                if member.place and part.startswith(member.place) and len(part) > len(member.place):
                    add(part, member, 0.9)
        return variants

    def _sound_pattern(self, round: Round, rules: RuleSet) -> re.Pattern[str] | None:
        """One alternation of every roster name as it may sound ("李剑国" for 李建国).

        The surname may only be another surname that sounds alike; a two-character name
        must be followed by a title ("周委书记"), since "周围" sounds like 周伟 too.
        """
        surnames = set(rules.surnames)
        parts = []
        firsts: set[str] = set()
        for i, member in enumerate(round.roster):
            name = member.name
            if len(name) < 2:
                continue
            first = (sounds.alike(name[0]) & surnames) | {name[0]}
            firsts |= first
            body = sounds.char_class(first) + "".join(
                sounds.char_class(sounds.alike(c)) for c in name[1:])
            if len(name) == 2:
                titles = [t.title for t in rules.titles
                          if any(w in member.post for w in t.found_in)] + ["同志"]
                body += "(?=" + "|".join(map(re.escape, titles)) + ")"
            parts.append(f"(?P<m{i}>{body})")
        if not parts:
            return None
        # The lookahead lets most positions fail at once instead of trying every name.
        return re.compile(f"(?={sounds.char_class(firsts)})(?:" + "|".join(parts) + ")")

    # --- finding ---------------------------------------------------------------------

    def find(self, prep: Prepared) -> list[Mention]:
        """Subjects in text order, overlapping mentions resolved, excluded mentions dropped."""
        text = prep.norm
        forms = [m.span() for m in self._roster_re.finditer(text)] if self._roster_re else []
        doc_foreign = self._doc_is_elsewhere(text, forms)
        found: list[Mention] = []
        for start, end in forms:
            mention = self._roster_mention(text, start, end, doc_foreign)
            if mention is not None:
                found.append(mention)
        if self._sound_re is not None:
            for m in self._sound_re.finditer(text):
                member = self._roster[int(m.lastgroup[1:])]  # type: ignore[index]
                form = m.group()
                differ = sum(a != b for a, b in zip(form, member.name, strict=True))
                # One character written another way ("李剑国"), never a filler word read as
                # part of a name ("老刘的父亲" is not 刘德福).
                if differ == 1 and not any(c in _FILLER for c in form):
                    found.append(Mention(m.start(), m.end(), form, member.name, member.post,
                                         member.role, SOUND_SCORE, True, by_sound=True))
        for pattern, role, level, village_role in self._posts:
            for m in pattern.finditer(text):
                if m.end() > m.start():
                    if village_role:
                        role = self._by_setting(text, m.start(), m.end(), role, village_role)
                    found.append(self._post_mention(text, m.start(), m.end(), role, level,
                                                    doc_foreign))
        found = [f for f in found if not self._excluded(prep, f)]
        found = self._dependents(text, _drop_aliases(text, _resolve_overlaps(found)))
        if not any(f.role in OFFICIAL_ROLES for f in found):
            header = self._header_body(text)
            if header is not None:
                found.insert(0, header)
        return found

    def _dependents(self, text: str, found: list[Mention]) -> list[Mention]:
        """Officials named to say whose relative or driver someone is ("镇长的老婆开饭店",
        "镇长的司机"): the official is marked a possessor and the relative becomes a person
        of their own (private; a driver or secretary is staff of the official's body)."""
        out: list[Mention] = []
        for i, m in enumerate(found):
            d = (self._dependent_after.match(text, m.end)
                 if m.role in OFFICIAL_ROLES and m.start >= 0 else None)
            if d is None:
                out.append(m)
                continue
            kind = d.lastgroup or ""
            owner = "standing" if kind == "standing" else "kin"
            out.append(replace(m, possessor=owner))
            if len(out) >= 2 and out[-2].end == m.start and out[-2].name == m.name:
                out[-2] = replace(out[-2], possessor=owner)  # "乡长雷振华的司机"
            start, end = d.start(kind), d.end(kind)
            taken = i + 1 < len(found) and found[i + 1].start < end
            if kind == "standing" or taken:
                continue
            role = "non_official" if kind == "kin" else (
                "outside_official" if m.role == "outside_official" else "staff")
            out.append(Mention(start, end, text[start:end], "", "", role, 0.5))
        return out

    def members_like(self, text: str, m: Mention) -> list[RosterMember]:
        """Roster members an unresolved post of the round may mean ("村支书" with no village
        named: every village secretary), for staff to pick from."""
        if m.name or m.start < 0 or m.role not in OFFICIAL_ROLES or m.role == "outside_official":
            return []
        place = self._nearest_place(text, m.start, m.end)
        # Only members whose post fits the words used: a bare "村委会主任" is none of the
        # secretaries who are not also 主任; a post word no title names keeps every member.
        held = [t for t in self._titles if t.title in m.text]
        return [r for r in self._roster if r.role == m.role
                and not (place and place in self._subordinates and r.place != place)
                and (not held or any(w in r.post for t in held for w in t.found_in))]

    def only_answers(self, text: str, m: Mention) -> bool:
        """True when the mention is followed by words of answering or helping ("村支书说是
        县里比对的"): without a charge, such a person is not presumed accused."""
        return m.start >= 0 and bool(self._answer_after.match(text, m.end))

    def is_person(self, m: Mention) -> bool:
        """False for a mention that names a business, an office or a place ("顺发烟酒店",
        "派出所"), which the triage page does not list as a person complained about."""
        return bool(m.name) or not self._body.search(m.text)

    def unnamed_is_elsewhere(self, text: str) -> bool:
        """For a charge against nobody named: True when nothing ties the text to the round
        (none of its places, no local post or first person), as in a case notice whose post
        was cut off ("违规借用下属单位车辆")."""
        return not (self._round_re.search(text) or self._local.search(text))

    def counterpart(self, text: str, m: Mention) -> bool:
        """A private person or business named as the other side of a deal, not the accused
        ("向私营企业出借", "接受私营企业主提供的宴请")."""
        if m.role != "non_official" or m.start < 0:
            return False
        return bool(self._counterpart.search(text, max(0, m.start - 4), m.start))

    def _header_body(self, text: str) -> Mention | None:
        """A text headed by a body of another level ("市总工会：…") is about that body."""
        m = self._header.match(text)
        if m is None or self._first_person.search(text):
            return None  # a letter's addressee or its writer's own unit, not a notice
        body = m.group("body")
        if self._round_re.search(body) or any(w in body for w in ("巡察", "领导", "同志")):
            return None
        start = m.start("body")
        return Mention(start, m.end("body"), body, "", body, "outside_official", 0.5)

    def from_hints(self, hints: dict[str, str]) -> Mention | None:
        """A subject from what a web reporter typed into the form's separate fields."""
        name = (hints.get("subject_name") or "").strip()
        unit = (hints.get("subject_unit") or "").strip()
        post = (hints.get("subject_post") or "").strip()
        for member in self._roster:
            if name and name == member.name:
                return Mention(-1, -1, name, member.name, member.post, member.role, 1.0, True)
        if not (unit or post):
            return None
        described = unit + post
        mentions = _resolve_overlaps(
            [self._post_mention(described, m.start(), m.end(), role, level, False)
             for pattern, role, level, _ in self._posts for m in pattern.finditer(described)
             if m.end() > m.start()])
        if not mentions:
            return None
        best = max(mentions, key=lambda m: (m.role != "non_official", m.end - m.start))
        return Mention(-1, -1, name or described, best.name, best.post or post, best.role,
                       max(best.score, 0.8), best.roster)

    def _roster_mention(self, text: str, start: int, end: int,
                        doc_foreign: bool) -> Mention | None:
        form = text[start:end]
        entries = self._variants[form]
        member, score, full = entries[0]
        if len(entries) > 1:
            # Two members answer to the same form: the place named just before decides.
            place = self._nearest_place(text, start, end)
            chosen = [e for e in entries if place and e[0].place == place]
            member, score, full = chosen[0] if chosen else (entries[0][0], 0.6, entries[0][2])
        if full and not _is_name_boundary(text, start, end):
            return None
        if not full:
            # A form of address is not a place however it looks ("老雷乡长", "振华乡长").
            place = self._nearest_place(text, start, end, overlap=False)
            if place == "" or (place is None and doc_foreign):
                return Mention(start, end, form, "", "", "outside_official", 0.6)
        return Mention(start, end, form, member.name, member.post, member.role, score, True)

    def _post_mention(self, text: str, start: int, end: int, role: str, level: str,
                      doc_foreign: bool) -> Mention:
        form = text[start:end]
        if level == "outside":
            return Mention(start, end, form, "", form, role, 0.7)
        if level == "private":
            return Mention(start, end, form, "", "", role, 0.5)
        place = self._nearest_place(text, start, end)
        if place == "" or (place is None and doc_foreign):
            return Mention(start, end, form, "", form, "outside_official", 0.6)
        # A former holder ("原党委书记", "时任镇长") is not the roster's current one.
        former = "原" in form or bool(_FORMER.search(text, max(0, start - 5), start))
        hits = self._members_for_post(form, role, place)
        if not hits:
            # The round may rank a village post otherwise than the post words do (its roster
            # makes village accountants key posts): the villages' members holding it say which.
            others = self._members_for_post(form, None, place)
            if others and all(m.place for m in others) and len({m.role for m in others}) == 1:
                hits, role = others, others[0].role
        member = hits[0] if len(hits) == 1 and not former else None
        if member is not None and member.place and _INSTITUTION_END.search(
                text, max(0, start - 4), start):
            member = None  # "中心学校党总支书记" is no village's secretary
        if member is not None:
            return Mention(start, end, form, member.name, member.post, member.role, 0.8, True,
                           by_post=True)
        return Mention(start, end, form, "", form, role, 0.6)

    def _by_setting(self, text: str, start: int, end: int, role: str, village_role: str) -> str:
        """The role of a title that both a township and a village leader bear ("刘书记"): the
        village's when a village word is nearer in its sentence than a township word."""
        lo = max((text.rfind(p, 0, start) for p in _PUNCT), default=-1) + 1
        hi = min((i for i in (text.find(p, end) for p in _PUNCT) if i >= 0), default=len(text))
        village = _nearest_cue(_VILLAGE_CUE, text, lo, hi, start, end)
        township = _nearest_cue(_TOWNSHIP_CUE, text, lo, hi, start, end)
        if township is not None and (village is None or township < village):
            return role
        return village_role

    def _members_for_post(self, form: str, role: str | None,
                          place: str | None) -> list[RosterMember]:
        """The roster members of `role` (any of the unit's when None) holding this post (at
        this place)."""
        core = form
        hits = []
        for member in self._roster:
            if member.role != role if role else member.role == "outside_official":
                continue
            if place and place in self._subordinates and member.place != place:
                continue
            if place and place not in self._subordinates and member.place:
                continue  # "岩口乡政府的会计" is none of the villages' accountants
            for part in re.split(r"[、，,/]", member.post):
                i = part.rfind(core)
                if i >= 0 and i + len(core) == len(part) and not part[:i].endswith("副"):
                    hits.append(member)
                    break
        return hits

    def _nearest_place(self, text: str, start: int, end: int,
                       overlap: bool = True) -> str | None:
        """The place named right before a mention: a round place, "" if foreign, None if none.

        The window reaches into the mention itself so "东岭村党支部书记" finds 东岭村; with
        `overlap` False another place counts only when it ends before the mention.
        """
        lo = max(0, start - 12)
        window = text[lo:min(end, start + 3)]
        cut = max(window.rfind(p) for p in _PUNCT)
        if cut >= 0:
            window = window[cut + 1:]
            lo += cut + 1
        found: list[tuple[int, str]] = [(m.end(), m.group())
                                        for m in self._round_re.finditer(window)]
        found += [(e, "") for e, _ in self._place_tokens(window)
                  if overlap or lo + e <= start]
        # "邻县的一个镇长", "隔壁镇的书记": another place, though not named.
        found += [(m.end(), "") for m in self._elsewhere.finditer(window)]
        if not found:
            # A body right before the post ("评估督导司原党支部书记") makes it that body's.
            return "" if self._institution.search(text, max(lo, start - 8), start) else None
        return max(found)[1]

    def _doc_is_elsewhere(self, text: str, forms: list[tuple[int, int]]) -> bool:
        """True when the text names other places and none of the round's own; a roster
        member's form of address that looks like a place ("振华乡长") is none."""
        if self._round_re.search(text):
            return False
        return any(not any(s < end and start < e for s, e in forms)
                   for end, start in ((e, e - len(t)) for e, t in self._place_tokens(text)))

    def _place_tokens(self, text: str) -> list[tuple[int, str]]:
        """Other places named in text, as (end, word); the round's county is left out."""
        out = []
        for m in self._place.finditer(text):
            token = m.group()
            if self._county and token.endswith(self._county):
                continue
            if "某" in token:  # a masked place ("某村", "该镇某村"): not known to be elsewhere
                continue
            if self._round_re.search(token):
                continue
            stem = token
            for suffix in self._suffixes:
                if token.endswith(suffix):
                    stem = token[: -len(suffix)]
                    break
            if len(stem) == 2 and stem[0] in "老小" and stem[1] in self._surnames:
                continue  # a form of address ("老雷乡长"), not a place
            if stem and stem[-1] in self._stop_before.get(token[len(stem):], ""):
                continue  # "山区", "门市": not a place before this suffix
            if not any(stem.endswith(w) for w in self._not_names):
                out.append((m.end(), token))
        return out

    def _excluded(self, prep: Prepared, m: Mention) -> bool:
        """Addressees ("尊敬的李书记", "王县长您好"), denials ("不是李书记"), namesakes."""
        text = prep.norm
        before = text[max(0, m.start - 6):m.start]
        if any(cue in before for cue in self._not_before):
            return True
        # "书记和村主任对此不知情": what is said after the last of people joined by 和 is said
        # of each of them.
        reach = 12 if text[m.end:m.end + 1] in ("和", "与", "及", "、", "跟") else 6
        after = text[m.end:m.end + reach]
        if any(after.startswith(cue) or cue in after for cue in self._not_after):
            return True
        # A letter's heading ("巡察组同志：", "王书记：") is its addressee.
        if text[m.end:m.end + 1] in ("：", ":") and not text[:m.start].strip(" 致尊敬的"):
            return True
        # A channel someone used ("打了县长热线", "给市长信箱写信") is nobody complained about.
        if m.role in OFFICIAL_ROLES and self._channel_after.match(text, m.end):
            return True
        # The writer's own post ("我是村民小组长，反映…") is not the one complained about.
        if self._reporter_before.search(text, max(0, m.start - 20), m.start) and (
                self._reporter_after.match(text, m.end)):
            return True
        # A body someone turned to ("向派出所报案", "打供水公司电话") is not complained about.
        if m.role in ("outside_official", "non_official") and self._referral_before.search(
                text, max(0, m.start - 3), m.start + 2) and self._referral_after.match(text, m.end):
            return True
        # A witness ("当时会计也在场", "可以找李主任作证") is not complained about.
        if self._witness_before.search(text, max(0, m.start - 8), m.start) or (
                self._witness_after.match(text, m.end)):
            return True
        if m.roster and m.text == m.name:
            s_start, s_end = prep.sentence_bounds(m.start)
            if "同名" in text[s_start:s_end]:
                return True
        return False


_VILLAGE_CUE = re.compile("村|社区|居委|小组|组里")
_TOWNSHIP_CUE = re.compile("镇|乡|街道")


def _nearest_cue(cue: re.Pattern[str], text: str, lo: int, hi: int, start: int,
                 end: int) -> int | None:
    """Distance from a mention to the nearest match of `cue` in text[lo:hi], if any."""
    gaps = [start - m.end() if m.end() <= start else m.start() - end
            for m in cue.finditer(text, lo, hi) if m.end() <= start or m.start() >= end]
    return min(gaps) if gaps else None


_ALIAS_GAP = re.compile(r"[（(][^）)]{0,12}")


def _drop_aliases(text: str, found: list[Mention]) -> list[Mention]:
    """A mention in brackets right after another names the same person ("妇女主任（来电人称
    “梁主任”）"), and so does a masked name right after a post ("原党委书记张某某"): neither
    is a second person."""
    out: list[Mention] = []
    for m in found:
        if out and out[-1].end <= m.start and _ALIAS_GAP.fullmatch(text, out[-1].end, m.start):
            continue
        if (out and out[-1].end == m.start and out[-1].role in OFFICIAL_ROLES
                and m.role == "non_official" and "某" in m.text):
            post = out[-1]
            if post.by_post and post.name[:1] != m.text[:1]:
                # "乡党委书记王某某" is not the roster's 钟立群, whatever the post says.
                out[-1] = replace(post, name="", post=post.text, roster=False, by_post=False)
            continue
        out.append(m)
    return out


def _is_name_boundary(text: str, start: int, end: int) -> bool:
    # A two-character name inside a longer word ("周伟大") is not that person.
    return not (end - start <= 2 and end < len(text) and text[end] in "大的们")


def _resolve_overlaps(found: list[Mention]) -> list[Mention]:
    """Keep roster names and forms over post words and longer mentions over shorter ones (a
    post word resolved to a roster member is still a post word: "派出所的所长" is not
    the township's 所长)."""
    found.sort(key=lambda f: (-(f.roster and not f.by_post), -(f.end - f.start), f.start))
    kept: list[Mention] = []  # disjoint, in text order
    starts: list[int] = []
    for f in found:
        i = bisect_right(starts, f.start)
        if (i > 0 and kept[i - 1].end > f.start) or (i < len(kept) and kept[i].start < f.end):
            continue
        kept.insert(i, f)
        starts.insert(i, f.start)
    return kept
