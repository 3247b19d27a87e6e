// #/friends: find people in the user directory, send friend requests, answer incoming
// ones, see who is online, open the direct chat with a friend, remove a friend.
import { useState } from "preact/hooks";
import { describeError } from "../../errors.js";
import { navigate } from "../../hooks.js";
import { registerStrings, t } from "../../i18n.js";
import { Avatar } from "../../ui/Avatar.jsx";
import { useSidebarEvents } from "../home/roomInfo.js";
import { acceptFriend, addFriend, directChatWith, friendsOf, presenceOf, removeFriend } from "./friends.js";
import "./friends.css";

registerStrings({
    en: {
        "friends.title": "Friends",
        "friends.search": "Find people",
        "friends.search_hint": "Name or user ID (@name:server)",
        "friends.search_button": "Search",
        "friends.no_results": "Nobody found.",
        "friends.results": "Search results",
        "friends.add": "Add friend",
        "friends.sent": "Request sent",
        "friends.yours": "Your friends",
        "friends.none": "No friends yet. Search for people above.",
        "friends.incoming": "Requests for you",
        "friends.outgoing": "Requests you sent",
        "friends.accept": "Accept",
        "friends.decline": "Decline",
        "friends.withdraw": "Withdraw",
        "friends.remove": "Remove",
        "friends.message": "Message",
        "friends.online_count": "{count} online",
        "friend_self": "That is you.",
    },
    fr: {
        "friends.title": "Ami·es",
        "friends.search": "Trouver des personnes",
        "friends.search_hint": "Nom ou identifiant (@nom:serveur)",
        "friends.search_button": "Chercher",
        "friends.no_results": "Personne trouvé.",
        "friends.results": "Résultats",
        "friends.add": "Ajouter",
        "friends.sent": "Demande envoyée",
        "friends.yours": "Vos ami·es",
        "friends.none": "Pas encore d'ami·es. Cherchez des personnes ci-dessus.",
        "friends.incoming": "Demandes reçues",
        "friends.outgoing": "Demandes envoyées",
        "friends.accept": "Accepter",
        "friends.decline": "Refuser",
        "friends.withdraw": "Retirer",
        "friends.remove": "Retirer des ami·es",
        "friends.message": "Écrire",
        "friends.online_count": "{count} en ligne",
        "friend_self": "C'est vous.",
    },
});

const PRESENCE_RANK = { online: 0, unavailable: 1 };

function FriendCard({ client, friend, children }) {
    const presence = presenceOf(client, friend.userId) || "offline";
    const user = client.getUser(friend.userId);
    return (
        <li class="card friend" data-user-id={friend.userId}>
            <Avatar client={client} mxc={user?.avatarUrl || friend.avatarUrl} name={friend.name} id={friend.userId}
                size={36} presence={friend.status === "contact" ? presence : undefined} />
            <span class="card-text">
                <strong>{friend.name}</strong>
                <small>{friend.userId}</small>
                {friend.status === "contact" && <small class={`presence ${presence}`}>{t(`presence.${presence}`)}</small>}
            </span>
            <span class="actions">{children}</span>
        </li>
    );
}

export function Friends({ client }) {
    useSidebarEvents(client);
    const [term, setTerm] = useState("");
    const [results, setResults] = useState(null);
    const [busy, setBusy] = useState(null);
    const [error, setError] = useState("");
    const [sent, setSent] = useState(new Set());
    const friends = friendsOf(client);
    const known = new Map(friends.map((f) => [f.userId, f]));

    const act = (key, action) => async () => {
        setBusy(key);
        setError("");
        try {
            await action();
        } catch (err) {
            setError(err.code === "friend_self" ? t("friend_self") : describeError(err));
        } finally {
            setBusy(null);
        }
    };
    const search = async (e) => {
        e.preventDefault();
        const query = term.trim();
        if (!query) return;
        setBusy("search");
        setError("");
        try {
            const found = (await client.searchUserDirectory({ term: query, limit: 20 })).results
                .filter((u) => u.user_id !== client.getUserId());
            if (/^@[^:]+:.+/.test(query) && !found.some((u) => u.user_id === query) && query !== client.getUserId()) {
                found.unshift({ user_id: query, display_name: null, avatar_url: null });
            }
            setResults(found);
        } catch (err) {
            setError(describeError(err));
        } finally {
            setBusy(null);
        }
    };
    const contacts = friends.filter((f) => f.status === "contact")
        .sort((a, b) => (PRESENCE_RANK[presenceOf(client, a.userId)] ?? 2) - (PRESENCE_RANK[presenceOf(client, b.userId)] ?? 2));
    const incoming = friends.filter((f) => f.status === "incoming");
    const outgoing = friends.filter((f) => f.status === "outgoing");
    const online = contacts.filter((f) => presenceOf(client, f.userId) === "online").length;
    const open = (userId) => act(`open-${userId}`, async () => navigate("room", await directChatWith(client, userId)));

    return (
        <section class="friends-page page" aria-labelledby="friends-title">
            <header class="page-header"><h1 id="friends-title">{t("friends.title")}</h1></header>
            <form class="inline-form friend-search" onSubmit={search} role="search">
                <label>{t("friends.search")}
                    <input type="search" name="search" value={term} placeholder={t("friends.search_hint")}
                        onInput={(e) => setTerm(e.currentTarget.value)} />
                </label>
                <button type="submit" class="primary" disabled={busy === "search"}>{t("friends.search_button")}</button>
            </form>
            {error && <p class="error" role="alert">{error}</p>}
            {results && (
                <section aria-labelledby="results-title">
                    <h2 id="results-title">{t("friends.results")}</h2>
                    {!results.length && <p class="muted">{t("friends.no_results")}</p>}
                    <ul class="card-list search-results">
                        {results.map((u) => {
                            const friend = known.get(u.user_id);
                            return (
                                <FriendCard key={u.user_id} client={client}
                                    friend={{ userId: u.user_id, name: u.display_name || u.user_id, avatarUrl: u.avatar_url,
                                        status: friend?.status || "none" }}>
                                    {friend?.status === "contact" && (
                                        <button type="button" onClick={open(u.user_id)}>{t("friends.message")}</button>
                                    )}
                                    {(friend?.status === "outgoing" || sent.has(u.user_id)) && <span class="muted">{t("friends.sent")}</span>}
                                    {!friend && !sent.has(u.user_id) && (
                                        <button type="button" class="primary" disabled={busy === `add-${u.user_id}`}
                                            aria-label={`${t("friends.add")}: ${u.display_name || u.user_id}`}
                                            onClick={act(`add-${u.user_id}`, async () => {
                                                await addFriend(client, u.user_id);
                                                setSent((s) => new Set([...s, u.user_id]));
                                            })}>{t("friends.add")}</button>
                                    )}
                                </FriendCard>
                            );
                        })}
                    </ul>
                </section>
            )}
            {incoming.length > 0 && (
                <section aria-labelledby="incoming-title">
                    <h2 id="incoming-title">{t("friends.incoming")}</h2>
                    <ul class="card-list incoming">
                        {incoming.map((f) => (
                            <FriendCard key={f.userId} client={client} friend={f}>
                                <button type="button" class="primary" disabled={busy === f.userId}
                                    aria-label={`${t("friends.accept")}: ${f.name}`}
                                    onClick={act(f.userId, () => acceptFriend(client, f))}>{t("friends.accept")}</button>
                                <button type="button" disabled={busy === f.userId}
                                    aria-label={`${t("friends.decline")}: ${f.name}`}
                                    onClick={act(f.userId, () => removeFriend(client, f.userId))}>{t("friends.decline")}</button>
                            </FriendCard>
                        ))}
                    </ul>
                </section>
            )}
            <section aria-labelledby="contacts-title">
                <h2 id="contacts-title">{t("friends.yours")} <small class="muted online-count">{t("friends.online_count", { count: online })}</small></h2>
                {!contacts.length && <p class="muted">{t("friends.none")}</p>}
                <ul class="card-list contacts">
                    {contacts.map((f) => (
                        <FriendCard key={f.userId} client={client} friend={f}>
                            <button type="button" class="primary" aria-label={`${t("friends.message")}: ${f.name}`}
                                onClick={open(f.userId)}>{t("friends.message")}</button>
                            <button type="button" disabled={busy === f.userId} aria-label={`${t("friends.remove")}: ${f.name}`}
                                onClick={act(f.userId, () => removeFriend(client, f.userId))}>{t("friends.remove")}</button>
                        </FriendCard>
                    ))}
                </ul>
            </section>
            {outgoing.length > 0 && (
                <section aria-labelledby="outgoing-title">
                    <h2 id="outgoing-title">{t("friends.outgoing")}</h2>
                    <ul class="card-list outgoing">
                        {outgoing.map((f) => (
                            <FriendCard key={f.userId} client={client} friend={f}>
                                <button type="button" disabled={busy === f.userId} aria-label={`${t("friends.withdraw")}: ${f.name}`}
                                    onClick={act(f.userId, () => removeFriend(client, f.userId))}>{t("friends.withdraw")}</button>
                            </FriendCard>
                        ))}
                    </ul>
                </section>
            )}
        </section>
    );
}
