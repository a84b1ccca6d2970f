import { multipleResource, objectInstance, resource } from '../../src/model/node.js';

/**
 * The Device /3/0 instance of the LwM2M-TS-Core read examples (TLV, JSON, SenML, CBOR appendices):
 * the values every codec's spec vector encodes.
 */
export const DEVICE_INSTANCE = objectInstance(0, [
  resource(0, 'Open Mobile Alliance'),
  resource(1, 'Lightweight M2M Client'),
  resource(2, '345000123'),
  resource(3, '1.0'),
  multipleResource(6, [1, 5]),
  multipleResource(7, [3800, 5000]),
  multipleResource(8, [125, 900]),
  resource(9, 100),
  resource(10, 15),
  multipleResource(11, [0]),
  resource(13, new Date(1367491215 * 1000)),
  resource(14, '+02:00'),
  resource(16, 'U'),
]);
