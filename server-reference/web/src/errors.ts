// API errors: the server's stable machine code, its generic message and field issues.

export interface FieldIssue {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: FieldIssue[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** `code: message` and the field issues, for an error box. */
  describe(): string {
    const head = `${this.code}: ${this.message}`;
    return this.issues.length ? `${head} (${this.issues.map((i) => `${i.path} ${i.message}`).join('; ')})` : head;
  }
}

export async function errorOf(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = res.statusText || 'request failed';
  let issues: FieldIssue[] = [];
  try {
    const body: unknown = await res.json();
    if (body && typeof body === 'object') {
      const b = body as { error?: unknown; message?: unknown; issues?: unknown };
      if (typeof b.error === 'string') code = b.error;
      if (typeof b.message === 'string') message = b.message;
      if (Array.isArray(b.issues)) {
        issues = b.issues.filter(
          (i): i is FieldIssue => !!i && typeof i.path === 'string' && typeof i.message === 'string',
        );
      }
    }
  } catch {
    // not JSON: keep the status
  }
  return new ApiError(res.status, code, message, issues);
}

