// Sign up and log in. Labels and button names are the ones users (and the tests) look for.
import { useState, type FormEvent } from "react";
import { useAuth } from "../auth/AuthContext";
import { ErrorNotice } from "../components/ErrorNotice";

type Mode = "login" | "signup";

export function AuthScreen() {
  const { login, signup } = useAuth();
  const [mode, setMode] = useState<Mode>("login");
  const [email, setEmail] = useState("");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === "login") await login(email, password);
      else await signup({ email, username, password });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  function switchTo(next: Mode) {
    setMode(next);
    setError(null);
  }

  return (
    <main className="auth">
      <h1>Snaproom</h1>
      <div className="tabs" role="tablist" aria-label="Sign in or create an account">
        <button type="button" role="tab" aria-selected={mode === "login"} onClick={() => switchTo("login")}>
          I have an account
        </button>
        <button type="button" role="tab" aria-selected={mode === "signup"} onClick={() => switchTo("signup")}>
          Create an account
        </button>
      </div>
      <form onSubmit={submit} aria-label={mode === "login" ? "Log in" : "Sign up"}>
        <label>
          Email
          <input type="email" name="email" autoComplete="email" required value={email}
                 onChange={(e) => setEmail(e.target.value)} />
        </label>
        {mode === "signup" && (
          <label>
            Username
            <input name="username" autoComplete="username" required minLength={3} maxLength={32}
                   pattern="[A-Za-z0-9_]{3,32}" title="3 to 32 letters, digits or underscores"
                   value={username} onChange={(e) => setUsername(e.target.value)} />
          </label>
        )}
        <label>
          Password
          <input type="password" name="password" required
                 minLength={mode === "signup" ? 8 : 1} maxLength={128}
                 autoComplete={mode === "signup" ? "new-password" : "current-password"}
                 value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        <ErrorNotice error={error} />
        <button type="submit" className="primary" disabled={busy}>
          {mode === "login" ? "Log in" : "Sign up"}
        </button>
      </form>
    </main>
  );
}
