/** Version of this dspex package, announced in the NATS service info. */
export const VERSION = '0.1.0';
