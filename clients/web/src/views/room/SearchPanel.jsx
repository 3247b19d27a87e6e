// Server-side search in this room (client.searchRoomEvents): results with their sender
// and time, and a button to show each one in the timeline.
import { useState } from "preact/hooks";
import { describeError } from "../../errors.js";
import { formatDay, formatTime, t } from "../../i18n.js";
import { Avatar } from "../../ui/Avatar.jsx";
import { Icon } from "./icons.jsx";
import { previewText } from "./MessageBody.jsx";

export function SearchPanel({ client, room, onJump, onClose }) {
    const [term, setTerm] = useState("");
    const [results, setResults] = useState(null);
    const [searched, setSearched] = useState("");
    const [busy, setBusy] = useState(false);
    const [error, setError] = useState("");

    const search = async (e) => {
        e.preventDefault();
        const query = term.trim();
        if (!query) return;
        setBusy(true);
        setError("");
        try {
            const found = await client.searchRoomEvents({ term: query, filter: { rooms: [room.roomId] } });
            setResults(found.results.map((r) => r.context.getEvent()));
            setSearched(query);
        } catch (err) {
            setError(describeError(err));
        } finally {
            setBusy(false);
        }
    };

    return (
        <section class="search-panel" aria-label={t("room.search")}>
            <form class="search-form" role="search" onSubmit={search}>
                <input type="search" aria-label={t("room.search_label")} placeholder={t("room.search_label")}
                    value={term} onInput={(e) => setTerm(e.currentTarget.value)}
                    onKeyDown={(e) => e.key === "Escape" && onClose()} autoFocus />
                <button type="submit" class="primary" disabled={busy}>{t("room.search_go")}</button>
                <button type="button" class="icon" aria-label={t("room.search_close")} onClick={onClose}><Icon name="close" /></button>
            </form>
            {room.hasEncryptionStateEvent() && <p class="muted">{t("room.search_encrypted")}</p>}
            {error && <p class="error" role="alert">{error}</p>}
            {busy && <p class="muted" role="status">{t("common.loading")}</p>}
            {results && !busy && (
                <div role="status" class="muted">
                    {results.length ? t("room.search_count", { count: results.length }) : t("room.search_none", { term: searched })}
                </div>
            )}
            {results && results.length > 0 && (
                <ol class="search-results">
                    {results.map((ev) => {
                        const member = room.getMember(ev.getSender());
                        const name = member?.name || ev.getSender();
                        return (
                            <li key={ev.getId()} class="search-result">
                                <Avatar client={client} mxc={member?.getMxcAvatarUrl()} name={name} id={ev.getSender()} size={24} />
                                <div class="search-result-main">
                                    <div class="message-meta">
                                        <span class="sender">{name}</span>
                                        <time dateTime={new Date(ev.getTs()).toISOString()}>
                                            {formatDay(ev.getTs())}, {formatTime(ev.getTs())}
                                        </time>
                                    </div>
                                    <p class="body">{previewText(ev)}</p>
                                </div>
                                <button class="secondary" onClick={() => onJump(ev.getId())}>{t("room.jump")}</button>
                            </li>
                        );
                    })}
                </ol>
            )}
        </section>
    );
}
