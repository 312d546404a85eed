// The operation context lives in core (policies, degrade and http read it without importing the wall).
export { currentOperation, type OperationContext, operationStorage, PRIORITIES, type Priority } from '../core/operation-context.js';
