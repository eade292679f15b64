// Pages loaded on demand (the terminal brings xterm.js): the first load stays small.
import type { ComponentType, JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ErrorBox, Loading } from './ui';

export function lazyPage<P extends object>(load: () => Promise<ComponentType<P>>): (props: P) => JSX.Element {
  let cached: ComponentType<P> | null = null;
  return function Lazy(props: P): JSX.Element {
    const [C, setC] = useState<ComponentType<P> | null>(() => cached);
    const [error, setError] = useState<unknown>(null);
    useEffect(() => {
      if (cached) return;
      load().then(
        (c) => {
          cached = c;
          setC(() => c);
        },
        (e: unknown) => setError(e),
      );
    }, []);
    if (error) return <ErrorBox error={error} />;
    return C ? <C {...props} /> : <Loading />;
  };
}
