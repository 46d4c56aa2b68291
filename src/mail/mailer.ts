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
  const transport = nodemailer.createTransport(config.smtpUrl);
  return {
    async send(message) {
      const info = await transport.sendMail({
        from: config.mailFrom,
        to: message.to,
        subject: message.subject,
        text: message.text,
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
