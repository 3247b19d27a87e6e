// The scrolling list of messages. It is laid out bottom-up (column-reverse), so it stays
// at the newest message as messages arrive and keeps its place when older ones are
// loaded above; scrolling near the top loads older messages (client.scrollback).
import { Direction, ReceiptType } from "matrix-js-sdk";
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { describeError } from "../../errors.js";
import { formatDay, t } from "../../i18n.js";
import { EventTile } from "./EventTile.jsx";
import { receiptsByEvent, timelineItems } from "./timeline.js";

const PAGE = 30;
const NEAR_TOP_PX = 300;

function reachedStart(room) {
    const timeline = room.getLiveTimeline();
    const first = timeline.getEvents()[0];
    return timeline.getPaginationToken(Direction.Backward) === null || first?.getType() === "m.room.create";
}

function useReadReceipts(client, room, events) {
    const sentFor = useRef(null);
    const me = client.getUserId();
    const last = [...events].reverse().find((e) => !e.status && e.getId() && !e.getId().startsWith("~"));
    const lastId = last?.getId();
    useEffect(() => {
        const send = () => {
            if (!last || document.visibilityState !== "visible") return;
            if (sentFor.current === lastId || room.hasUserReadEvent(me, lastId)) return;
            sentFor.current = lastId;
            client.sendReadReceipt(last, ReceiptType.Read, true).catch((err) => {
                sentFor.current = null;
                console.warn("read receipt not sent", room.roomId, err);
            });
        };
        send();
        document.addEventListener("visibilitychange", send);
        return () => document.removeEventListener("visibilitychange", send);
    }, [lastId]);
}

export function Timeline({ client, room, handlers, jump, onJumpFailed, scrollToEnd }) {
    const scroller = useRef(null);
    const busy = useRef(false);
    const [paginating, setPaginating] = useState(false);
    const [atStart, setAtStart] = useState(() => reachedStart(room));
    const [error, setError] = useState("");
    const [highlighted, setHighlighted] = useState(null);
    const [scrolledUp, setScrolledUp] = useState(false);
    const me = client.getUserId();

    const events = room.getLiveTimeline().getEvents();
    const items = timelineItems(events, room);
    const shown = new Set(items.filter((i) => i.ev).map((i) => i.ev.getId()));
    const readUpTo = [];
    for (const member of room.getJoinedMembers()) {
        if (member.userId === me) continue;
        const eventId = room.getEventReadUpTo(member.userId);
        if (eventId) readUpTo.push([member.userId, eventId]);
    }
    const readers = receiptsByEvent(events, readUpTo, shown);
    useReadReceipts(client, room, events);

    const loadOlder = useCallback(async () => {
        if (busy.current || reachedStart(room)) {
            setAtStart(reachedStart(room));
            return false;
        }
        busy.current = true;
        setPaginating(true);
        setError("");
        try {
            await client.scrollback(room, PAGE);
        } catch (err) {
            setError(describeError(err));
        } finally {
            busy.current = false;
            setPaginating(false);
            setAtStart(reachedStart(room));
        }
        return true;
    }, [room]);

    const onScroll = () => {
        const el = scroller.current;
        if (!el) return;
        // column-reverse: scrollTop is 0 at the bottom and negative above it.
        const fromTop = el.scrollHeight - el.clientHeight + el.scrollTop;
        if (fromTop < NEAR_TOP_PX) loadOlder();
        setScrolledUp(el.scrollTop < -200);
    };

    // Fill the screen: while the messages do not overflow, load older ones.
    useLayoutEffect(() => {
        const el = scroller.current;
        if (el && !busy.current && !atStart && el.scrollHeight <= el.clientHeight + NEAR_TOP_PX) loadOlder();
    });

    useEffect(() => {
        if (scroller.current) scroller.current.scrollTop = 0;
    }, [scrollToEnd]);

    // Showing a message asked for by a search result or a quote: load older messages
    // until it is in the timeline (or the start is reached), then scroll to it.
    useEffect(() => {
        if (!jump) return undefined;
        let live = true;
        (async () => {
            for (let page = 0; page < 40 && live; page++) {
                if (room.getLiveTimeline().getEvents().some((e) => e.getId() === jump.eventId)) {
                    setHighlighted(jump.eventId);
                    requestAnimationFrame(() => document.getElementById(`event-${jump.eventId}`)
                        ?.scrollIntoView({ block: "center" }));
                    return;
                }
                if (reachedStart(room)) break;
                while (busy.current && live) await new Promise((r) => setTimeout(r, 100));
                await loadOlder();
            }
            if (live) onJumpFailed?.();
        })();
        return () => {
            live = false;
        };
    }, [jump]);

    return (
        <div class="timeline-wrap">
            <div class="timeline-scroller" ref={scroller} onScroll={onScroll}>
                <div class="timeline-inner">
                    <div class="timeline-top">
                        {atStart
                            ? <p class="muted beginning">{t("room.beginning")}</p>
                            : paginating
                                ? <p class="muted" role="status">{t("room.loading_older")}</p>
                                : <button class="secondary" onClick={loadOlder}>{t("room.load_older")}</button>}
                        {error && <p class="error" role="alert">{error}</p>}
                    </div>
                    <ol class="timeline" aria-label={t("room.timeline")}>
                        {items.map((item) => {
                            if (item.kind === "day") {
                                return <li key={item.key} class="day-separator" role="separator"><span>{formatDay(item.ts)}</span></li>;
                            }
                            if (item.kind === "state") return <li key={item.key} class="state-change">{item.text}</li>;
                            return (
                                <EventTile key={item.key} client={client} room={room} ev={item.ev}
                                    continuation={item.continuation} readers={readers.get(item.ev.getId())}
                                    highlighted={highlighted === item.ev.getId()} handlers={handlers} />
                            );
                        })}
                    </ol>
                </div>
            </div>
            {scrolledUp && (
                <button class="jump-latest primary" onClick={() => {
                    scroller.current.scrollTop = 0;
                }}>↓ {t("room.jump_latest")}</button>
            )}
        </div>
    );
}
