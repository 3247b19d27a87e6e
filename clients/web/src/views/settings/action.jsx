// One action of a settings form: busy while it runs, then its error or its "done" line.
import { useState } from "preact/hooks";
import { describeError } from "../../errors.js";

export function useAction() {
    const [busy, setBusy] = useState(false);
    const [error, setError] = useState("");
    const [done, setDone] = useState("");
    /** Runs `action`; true when it succeeded. */
    const run = async (action, doneText = "") => {
        setBusy(true);
        setError("");
        setDone("");
        try {
            await action();
            setDone(doneText);
            return true;
        } catch (err) {
            setError(describeError(err));
            return false;
        } finally {
            setBusy(false);
        }
    };
    return { busy, error, done, run, setError };
}

export function Feedback({ action }) {
    return (
        <>
            {action.error && <p class="error" role="alert">{action.error}</p>}
            {action.done && <p class="ok" role="status">{action.done}</p>}
        </>
    );
}
