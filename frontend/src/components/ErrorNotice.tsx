// A failed request as a person should see it: the gateway's own `detail`, and for 429 a live
// count of the seconds in Retry-After.
import { useEffect, useState } from "react";
import { ApiError, describeError, GatewayUnreachable } from "../api/client";
import { useReachability } from "../api/connectivity";
import { useApi } from "../services";

export function ErrorNotice({ error }: { error: unknown }) {
  const reachability = useReachability(useApi().connectivity);
  const retryAfter = error instanceof ApiError && error.status === 429 ? error.retryAfter : null;
  // The count belongs to one error: a new error starts from its own Retry-After at once.
  const [count, setCount] = useState<{ of: unknown; left: number | null }>({ of: error, left: retryAfter });
  const left = count.of === error ? count.left : retryAfter;

  useEffect(() => {
    if (retryAfter === null) return;
    const started = Date.now();
    const timer = setInterval(() => {
      const remaining = Math.max(0, retryAfter - Math.floor((Date.now() - started) / 1000));
      setCount({ of: error, left: remaining });
      if (remaining === 0) clearInterval(timer);
    }, 1000);
    return () => clearInterval(timer);
  }, [error, retryAfter]);

  if (error === null || error === undefined) return null;
  // The banner says it while it lasts; once the gateway answers again the error is history.
  if (error instanceof GatewayUnreachable && reachability === "reachable") return null;
  if (error instanceof ApiError && error.status === 429) {
    return (
      <div className="error" role="alert">
        <p>
          Too many requests.{" "}
          {left ? <>Try again in <span className="retry-after">{left}</span> s.</> : "You can try again now."}
        </p>
        <p className="detail">{error.detail}</p>
      </div>
    );
  }
  return (
    <div className="error" role="alert">
      <p>{describeError(error)}</p>
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return <p className="muted" role="status" aria-busy="true">Loading {what}…</p>;
}

export function Empty({ children }: { children: React.ReactNode }) {
  return <p className="empty muted">{children}</p>;
}
