throw new Error('node-aead-crypto is replaced by a no-op: Node crypto provides aes-ccm/aes-gcm');
