/**
 * Outgoing mail through nodemailer when HOOKDESK_SMTP_URL is set; otherwise
 * each message is logged (recipient and subject only) instead of sent.
 */
import nodemailer from 'nodemailer';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  /** HTML alternative to `text`. */
  html?: string;
  /** Message-ID this mail answers (threading), `<id@host>`. */
  inReplyTo?: string;
  /** Earlier Message-IDs of the thread, oldest first. */
  references?: string[];
  /** Extra headers (Message-ID, In-Reply-To, References for ticket threads). */
  headers?: Record<string, string>;
  messageId?: string;
}

export interface Mailer {
  /** Resolves with the Message-ID the server accepted, or null when mail is only logged. */
  send(message: MailMessage): Promise<string | null>;
  close(): void;
}

export function createMailer(config: Pick<Config, 'smtpUrl' | 'mailFrom'>, logger: Logger): Mailer {
  if (!config.smtpUrl) {
    return {
      async send(message) {
        logger.info(
          { to: message.to, subject: message.subject },
          'mail not sent: HOOKDESK_SMTP_URL is not set',
        );
        return null;
      },
      close() {},
    };
  }
  // Well inside a job's lease (2 min): a send still hanging when the lease
  // ends would be claimed again and could go out twice. nodemailer's own
  // defaults wait up to 2 min to connect and 10 min on a silent socket.
  const transport = nodemailer.createTransport({
    url: config.smtpUrl,
    connectionTimeout: 20_000,
    greetingTimeout: 20_000,
    socketTimeout: 60_000,
  });
  return {
    async send(message) {
      const info = await transport.sendMail({
        from: config.mailFrom,
        to: message.to,
        subject: message.subject,
        text: message.text,
        ...(message.html !== undefined ? { html: message.html } : {}),
        ...(message.inReplyTo ? { inReplyTo: message.inReplyTo } : {}),
        ...(message.references?.length ? { references: message.references } : {}),
        ...(message.headers ? { headers: message.headers } : {}),
        ...(message.messageId ? { messageId: message.messageId } : {}),
      });
      return typeof info.messageId === 'string' ? info.messageId : null;
    },
    close() {
      transport.close();
    },
  };
}
