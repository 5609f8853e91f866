import type { TablePolicy } from '../../shared/storage/table';

/** A table client policy that counts the round trips it sees (each call, a transaction once). */
export function tableRoundTrips(): { policy: TablePolicy; count(): number; reset(): void } {
  let count = 0;
  return {
    policy: {
      position: 'perCall',
      policy: {
        name: 'countTableRoundTrips',
        async sendRequest(request, next) {
          count += 1;
          return next(request);
        },
      },
    },
    count: () => count,
    reset: () => {
      count = 0;
    },
  };
}
