// What the timeline shows, worked out from the room's events without touching the page:
// which events are tiles, day separators, grouped messages, state changes as sentences,
// and where each reader's receipt sits.
import { t } from "../../i18n.js";

const MESSAGE_TYPES = new Set(["m.room.message", "m.room.encrypted", "m.sticker"]);
const STATE_TYPES = new Set([
    "m.room.create", "m.room.member", "m.room.name", "m.room.topic", "m.room.avatar", "m.room.encryption",
]);
// Consecutive messages from one sender within this long share one name and avatar.
const GROUP_MS = 5 * 60 * 1000;

/** Events folded into others (edits, reactions, redactions) are not tiles of their own. */
export function isMessage(ev) {
    if (!MESSAGE_TYPES.has(ev.getType())) return false;
    return !ev.isRelation("m.replace") && !ev.isRelation("m.annotation");
}

export function isStateChange(ev) {
    return ev.isState() && STATE_TYPES.has(ev.getType());
}

function sameDay(a, b) {
    return new Date(a).toDateString() === new Date(b).toDateString();
}

/**
 * The timeline's rows, oldest first: {kind: "day", ts}, {kind: "state", ev, text} and
 * {kind: "message", ev, continuation}.
 */
export function timelineItems(events, room) {
    const items = [];
    let previous = null; // the last row's event, for day changes and grouping
    let previousKind = null;
    for (const ev of events) {
        let kind = null;
        let text = null;
        if (isMessage(ev)) kind = "message";
        else if (isStateChange(ev)) {
            text = describeStateChange(ev, room);
            if (text) kind = "state";
        }
        if (!kind) continue;
        if (!previous || !sameDay(previous.getTs(), ev.getTs())) {
            items.push({ kind: "day", ts: ev.getTs(), key: `day-${ev.getTs()}` });
            previousKind = "day";
        }
        const continuation = kind === "message" && previousKind === "message"
            && previous.getSender() === ev.getSender() && ev.getTs() - previous.getTs() < GROUP_MS;
        items.push({ kind, ev, text, continuation, key: ev.getTxnId() || ev.getId() });
        previous = ev;
        previousKind = kind;
    }
    return items;
}

/**
 * For each shown event ID, the user IDs whose read receipt is at it (a receipt on an
 * event that is not shown, a reaction say, counts for the last shown event before it).
 */
export function receiptsByEvent(events, readUpTo, shown) {
    const position = new Map();
    let lastShown = null;
    for (const ev of events) {
        if (shown.has(ev.getId())) lastShown = ev.getId();
        if (lastShown) position.set(ev.getId(), lastShown);
    }
    const result = new Map();
    for (const [userId, eventId] of readUpTo) {
        const at = position.get(eventId);
        if (!at) continue;
        if (!result.has(at)) result.set(at, []);
        result.get(at).push(userId);
    }
    return result;
}

function nameOf(member, fallback, room) {
    const name = member?.name;
    if (name && name !== fallback) return name;
    return room?.getMember(fallback)?.name || name || fallback;
}

/** A sentence for a membership, name, topic or encryption change; null for no sentence. */
export function describeStateChange(ev, room) {
    const content = ev.getContent();
    const prev = ev.getPrevContent() || {};
    const sender = nameOf(ev.sender, ev.getSender(), room);
    switch (ev.getType()) {
        case "m.room.create":
            return t("room.state.created", { sender });
        case "m.room.encryption":
            return t("room.state.encryption", { sender });
        case "m.room.name":
            return content.name ? t("room.state.name", { sender, name: content.name }) : t("room.state.name_removed", { sender });
        case "m.room.topic":
            return content.topic ? t("room.state.topic", { sender, topic: content.topic }) : t("room.state.topic_removed", { sender });
        case "m.room.avatar":
            return t("room.state.avatar", { sender });
        case "m.room.member":
            return describeMembership(ev, content, prev, sender);
        default:
            return null;
    }
}

function describeMembership(ev, content, prev, sender) {
    const stateKey = ev.getStateKey();
    const target = content.displayname || prev.displayname || nameOf(ev.target, stateKey);
    const now = content.membership;
    const before = prev.membership;
    const self = ev.getSender() === stateKey;
    if (now === "join" && before === "join") {
        if (content.displayname !== prev.displayname) {
            return t("room.state.renamed_self", { old: prev.displayname || stateKey, new: content.displayname || stateKey });
        }
        if (content.avatar_url !== prev.avatar_url) return t("room.state.avatar_self", { target });
        return null;
    }
    if (now === "join") return t("room.state.joined", { target });
    if (now === "invite") return t("room.state.invited", { sender, target });
    if (now === "ban") return t("room.state.banned", { sender, target });
    if (now === "knock") return t("room.state.knocked", { target });
    if (now === "leave") {
        if (before === "ban") return t("room.state.unbanned", { sender, target });
        if (self && before === "invite") return t("room.state.declined", { target });
        if (self) return t("room.state.left", { target });
        return t("room.state.kicked", { sender, target });
    }
    return null;
}

/**
 * The text of a message without an old-style reply fallback ("> <@a:b> quoted" lines
 * then an empty line). spec: client-server-api, "Rich replies", fallbacks.
 */
export function stripReplyFallback(body, isReply) {
    if (!isReply || typeof body !== "string" || !body.startsWith("> ")) return body;
    const lines = body.split("\n");
    let i = 0;
    while (i < lines.length && lines[i].startsWith("> ")) i += 1;
    if (lines[i] === "") i += 1;
    return lines.slice(i).join("\n");
}

/** Who is typing, as a sentence, or "". */
export function typingSentence(names) {
    if (names.length === 0) return "";
    if (names.length === 1) return t("room.typing_one", { name: names[0] });
    if (names.length === 2) return t("room.typing_two", { a: names[0], b: names[1] });
    return t("room.typing_many");
}
