/** Header names of wire protocol v1. */
export const Header = {
  ContentType: 'Content-Type',
  Deadline: 'Dspex-Deadline',
  Trace: 'Dspex-Trace',
  Session: 'Dspex-Session',
  ErrorCode: 'Nats-Service-Error-Code',
  Error: 'Nats-Service-Error',
} as const;
export type Header = (typeof Header)[keyof typeof Header];
