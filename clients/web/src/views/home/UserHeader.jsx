import { registerStrings, t } from "../../i18n.js";
import { Avatar } from "../../ui/Avatar.jsx";
import { useEmitter } from "../../hooks.js";

registerStrings({
    en: { "home.signout": "Sign out" },
    fr: { "home.signout": "Se déconnecter" },
});

export function UserHeader({ client, onSignOut }) {
    const userId = client.getUserId();
    const user = client.getUser(userId);
    useEmitter(user, ["User.displayName", "User.avatarUrl"], [userId]);
    return (
        <header class="user-header">
            <Avatar client={client} mxc={user?.avatarUrl} name={user?.displayName} id={userId} size={36} />
            <div class="who">
                <strong class="display-name">{user?.displayName || userId}</strong>
                <small>{userId}</small>
            </div>
            <button class="secondary sign-out" onClick={onSignOut}>{t("home.signout")}</button>
        </header>
    );
}
