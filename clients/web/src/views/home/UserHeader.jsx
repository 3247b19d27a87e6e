import { registerStrings, t } from "../../i18n.js";
import { Avatar } from "../../ui/Avatar.jsx";
import { useOwnProfile } from "./ownProfile.js";

registerStrings({
    en: { "home.signout": "Sign out", "home.friends": "Friends", "home.settings": "Settings", "home.you": "You" },
    fr: { "home.signout": "Se déconnecter", "home.friends": "Ami·es", "home.settings": "Paramètres", "home.you": "Vous" },
});

export function UserHeader({ client, onSignOut, page }) {
    const userId = client.getUserId();
    const profile = useOwnProfile(client);
    return (
        <header class="user-header">
            <div class="me">
                <Avatar client={client} mxc={profile.avatarUrl} name={profile.displayName} id={userId} size={36} />
                <div class="who">
                    <strong class="display-name">{profile.displayName || userId}</strong>
                    <small>{userId}</small>
                </div>
            </div>
            <nav class="user-links" aria-label={t("home.you")}>
                <a href="#/friends" class={page === "friends" ? "selected" : ""}
                    aria-current={page === "friends" ? "page" : undefined}>{t("home.friends")}</a>
                <a href="#/settings" class={page === "settings" ? "selected" : ""}
                    aria-current={page === "settings" ? "page" : undefined}>{t("home.settings")}</a>
                <button type="button" class="secondary sign-out" onClick={onSignOut}>{t("home.signout")}</button>
            </nav>
        </header>
    );
}
