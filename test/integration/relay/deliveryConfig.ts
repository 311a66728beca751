import * as z from 'zod';

export const DELIVERY_ENV = { tableName: 'DELIVERIES_TABLE_NAME', path: 'DELIVERY_PATH' } as const;
export const DeliveryConfigSchema = z.object({ [DELIVERY_ENV.tableName]: z.string().min(1) });
