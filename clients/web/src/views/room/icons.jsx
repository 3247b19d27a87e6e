// Small line icons for the conversation's buttons (emoji fonts are not everywhere).
// Decorative: the buttons carry their names in aria-label.
const PATHS = {
    search: "M10.5 3a7.5 7.5 0 0 1 5.9 12.1l4.7 4.7-1.4 1.4-4.7-4.7A7.5 7.5 0 1 1 10.5 3zm0 2a5.5 5.5 0 1 0 0 11 5.5 5.5 0 0 0 0-11z",
    attach: "M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5H9v9a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v11.5a6 6 0 0 0 12 0v-10z",
    lock: "M12 2a5 5 0 0 1 5 5v3h1a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2v-8a2 2 0 0 1 2-2h1V7a5 5 0 0 1 5-5zm0 2a3 3 0 0 0-3 3v3h6V7a3 3 0 0 0-3-3z",
    react: "M12 2a10 10 0 1 1 0 20 10 10 0 0 1 0-20zm0 2a8 8 0 1 0 0 16 8 8 0 0 0 0-16zm-3 5a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3zm6 0a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3zm-7 5h8a4 4 0 0 1-8 0z",
    reply: "M10 5v4c6 0 10 3 11 10-2.5-3.5-6-5-11-5v4l-7-6.5z",
    edit: "M15.2 3.4l5.4 5.4L9 20.4 3 21l.6-6zm0 2.8l-9.7 9.7-.3 2.9 2.9-.3 9.7-9.7z",
    trash: "M9 3h6l1 2h4v2H4V5h4zm-3 5h12l-1 13H7zm2 2l.8 9h1.5l-.3-9zm5 0l-.3 9h1.5l.8-9z",
    download: "M11 3h2v9.2l3.3-3.3 1.4 1.4L12 16l-5.7-5.7 1.4-1.4 3.3 3.3zM4 18h16v2H4z",
    file: "M6 2h8l6 6v14H6zm7 1.5V9h5.5zM8 12h8v1.5H8zm0 3h8v1.5H8z",
    close: "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z",
    back: "M20 11v2H8l5 5-1.4 1.4L4.2 12l7.4-7.4L13 6l-5 5z",
};

export function Icon({ name, size = 18 }) {
    return (
        <svg class="icon-svg" width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
            <path d={PATHS[name]} fill="currentColor" />
        </svg>
    );
}
