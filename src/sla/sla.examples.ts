/** An example SLA policy for /docs (see `withExamples`, http/schemas.ts). */
export const slaPolicyExample = {
  warningPercent: 80,
  priorities: {
    urgent: { firstResponseMinutes: 30, resolutionMinutes: 240 },
    high: { firstResponseMinutes: 240, resolutionMinutes: 1440 },
    normal: { firstResponseMinutes: 480, resolutionMinutes: 2880 },
    low: { firstResponseMinutes: 1440, resolutionMinutes: null },
  },
};
