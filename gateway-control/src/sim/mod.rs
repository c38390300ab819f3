//! The analog-gateway simulator (`offhook gateway-sim`).
