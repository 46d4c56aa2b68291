/** Example channels for /docs (see `withExamples`, http/schemas.ts): a Twilio SMS number. */
import { EXAMPLE_AT, EXAMPLE_ID } from '../http/shared.examples.js';
import { callbackUrls } from './channel-types.js';
import type { ChannelDto } from './channels.schemas.js';

const config = { accountSid: 'AC0123456789abcdef0123456789abcdef', phoneNumber: '+14155550100' };

export const channelExample: ChannelDto = {
  id: EXAMPLE_ID.channel,
  type: 'twilio_sms',
  name: 'Support SMS line',
  config,
  callbackUrls: callbackUrls('https://help.example.com', 'twilio_sms', 'k3Vq8nR2xT5wLm0pZa7cYb1d'),
  createdAt: EXAMPLE_AT.created,
};

export const createChannelExample = {
  type: 'twilio_sms' as const,
  name: channelExample.name,
  credentials: { ...config, authToken: '4f2a9c81d7e64b03a5c2e9f170d3b8a6' },
};

export const patchChannelExample = {
  name: 'Support SMS (US)',
  credentials: { authToken: '9b1e4c7a2d8f60e35c9a1b7f4e2d8c06' },
};

export const patchedChannelExample: ChannelDto = {
  ...channelExample,
  name: patchChannelExample.name,
};
