// Vite client types: side-effect CSS imports, import.meta.url asset handling.
/// <reference types="vite/client" />
