/** The driver's name, sent in the handshake's client metadata (the server logs it). */
export const DRIVER_NAME = 'mgo-threads';
/** The package version, sent in the handshake's client metadata (a unit test keeps it equal to package.json's). */
export const DRIVER_VERSION = '0.1.0';
