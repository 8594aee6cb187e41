/** A self-signed certificate for 127.0.0.1 and localhost made with the openssl CLI (cached per process). */
export function selfSignedCertificate(): { key: string; cert: string };
