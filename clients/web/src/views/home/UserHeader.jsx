import { UserEvent } from "matrix-js-sdk";
import { registerStrings, t } from "../../i18n.js";
import { Avatar } from "../../ui/Avatar.jsx";
import { useEmitter } from "../../hooks.js";

registerStrings({
    en: { "home.signout": "Sign out", "home.friends": "Friends", "home.settings": "Settings" },
    fr: { "home.signout": "Se déconnecter", "home.friends": "Ami·es", "home.settings": "Paramètres" },
});

export function UserHeader({ client, onSignOut, page }) {
    const userId = client.getUserId();
    const user = client.getUser(userId);
    useEmitter(client, [UserEvent.DisplayName, UserEvent.AvatarUrl, "Room.myMembership"], [userId]);
    return (
        <header class="user-header">
            <div class="me">
                <Avatar client={client} mxc={user?.avatarUrl} name={user?.displayName} id={userId} size={36} />
                <div class="who">
                    <strong class="display-name">{user?.displayName || userId}</strong>
                    <small>{userId}</small>
                </div>
            </div>
            <nav class="user-links" aria-label={t("home.settings")}>
                <a href="#/friends" class={page === "friends" ? "selected" : ""}
                    aria-current={page === "friends" ? "page" : undefined}>{t("home.friends")}</a>
                <a href="#/settings" class={page === "settings" ? "selected" : ""}
                    aria-current={page === "settings" ? "page" : undefined}>{t("home.settings")}</a>
                <button type="button" class="secondary sign-out" onClick={onSignOut}>{t("home.signout")}</button>
            </nav>
        </header>
    );
}
