// Shapes of the breeze-server API answers the console reads (camelCase, as served; see the
// OpenAPI document at /api/v1/openapi.json). Only the fields the console uses.

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface SessionUser {
  id: string;
  email: string;
  scope: 'system' | 'partner' | 'organization';
  roleId: string | null;
  orgId: string | null;
  partnerId: string | null;
  mfaEnabled: boolean;
}

export interface SessionAnswer {
  accessToken: string;
  tokenType: string;
  expiresIn: number;
  mfa: boolean;
  user: SessionUser;
}

export interface MfaChallenge {
  mfaRequired: true;
  mfaToken: string;
  expiresIn: number;
}

export interface MfaStatus {
  enabled: boolean;
  pending: boolean;
  required: boolean;
  sessionVerified: boolean;
  recoveryCodesRemaining: number;
}

export interface Me {
  id: string;
  email: string;
  name: string;
  scope: string;
  orgId: string | null;
  partnerId: string | null;
  permissions: string[];
  mfa: MfaStatus;
}

export interface MfaSetup {
  secret: string;
  otpauthUri: string;
  issuer: string;
}

export interface MfaConfirm {
  mfaEnabled: boolean;
  recoveryCodes: string[];
  reloginRequired: boolean;
}

export interface LoginSession {
  id: string;
  createdAt: string;
  lastUsedAt: string | null;
  ip: string | null;
  userAgent: string | null;
  current: boolean;
}

export interface Org {
  id: string;
  partnerId: string;
  name: string;
  status: string;
}

export interface Site {
  id: string;
  orgId: string;
  name: string;
}

export interface Device {
  id: string;
  orgId: string;
  siteId: string;
  groupId: string | null;
  agentId: string;
  hostname: string;
  displayName: string | null;
  osType: string;
  osVersion: string;
  architecture: string;
  agentVersion: string;
  status: string;
  lastSeenAt: string | null;
  enrolledAt: string;
  updatedAt: string;
}

export interface Command {
  id: string;
  deviceId: string;
  type: string;
  status: string;
  createdBy: string | null;
  createdAt: string | null;
  sentAt: string | null;
  completedAt: string | null;
  exitCode: number | null;
  stdout: string | null;
  stderr: string | null;
  durationMs: number | null;
  error: string | null;
}

export interface ApiKey {
  id: string;
  orgId: string;
  name: string;
  keyPrefix: string;
  scopes: string[];
  status: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  usageCount: number;
  createdAt: string;
  revokedAt: string | null;
}

export interface EnrollmentKey {
  id: string;
  orgId: string;
  siteId: string;
  name: string;
  maxUsage: number;
  usageCount: number;
  expiresAt: string;
  hasSecret: boolean;
  createdAt: string;
}

export interface AuditItem {
  chain: string;
  seq: number;
  kind: string;
  timestamp: string;
  actorType?: string;
  actorId?: string;
  action?: string;
  resourceType?: string;
  resourceId?: string;
  result?: string;
  ip?: string;
  userAgent?: string;
  details: unknown;
  errorMessage?: string;
  initiatedBy?: string;
}

export interface RemoteSession {
  id: string;
  deviceId: string;
  status: string;
  cols: number;
  rows: number;
  createdAt: string;
  endedAt: string | null;
  endReason: string | null;
  bytesIn: number;
  bytesOut: number;
  transcriptSha256: string | null;
  truncated: boolean;
}

export interface Ticket {
  ticket: string;
  expiresAt: string;
  protocols: [string, string];
}
