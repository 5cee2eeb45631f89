/**
 * The synthetic credit-scoring data set (scripts and tests): applicants with named features,
 * drawn from a seeded PRNG, labelled by a documented logistic rule with Bernoulli noise.
 *
 * Rule (the log-odds of "repaid", i.e. approve):
 *
 *     z = 0.3 + 1.4·ln(income / 45) − 7.5·(debt_to_income − 0.30) − 1.1·recent_delinquencies
 *             + 0.07·(credit_history_years − 8) − 0.08·(open_accounts − 6) + 0.03·(age − 40)
 *     label = 1 (approve) with probability sigmoid(z), else 0 (decline)
 *
 * zip_digit (the last digit of the ZIP code) is drawn independently of everything and does not
 * enter the rule. Split: the first 80% of the applicants train, the rest are held out. Inputs are
 * standardised with the training set's mean and standard deviation.
 */
import { seededRandom } from './random';

/** The data set's seed and size. */
export const CREDIT_SEED = 2024;
export const CREDIT_COUNT = 10000;
export const CREDIT_TRAIN_FRACTION = 0.8;

/** Feature names in input order. */
export const CREDIT_FEATURES = ['income', 'debt_to_income', 'recent_delinquencies', 'credit_history_years', 'open_accounts', 'age', 'zip_digit'] as const;
export type CreditFeature = (typeof CREDIT_FEATURES)[number];

/** What each feature means (for the card and the example). */
export const CREDIT_FEATURE_INFO: Record<CreditFeature, string> = {
  income: 'yearly income, thousands of dollars (log-normal, grows with age)',
  debt_to_income: 'monthly debt payments / monthly income (normal around 0.28, clipped to [0.02, 0.8])',
  recent_delinquencies: 'late payments in the last two years (0–6, mostly 0)',
  credit_history_years: 'years since the first credit account (at most age − 18)',
  open_accounts: 'open credit accounts (1–12)',
  age: 'years (21–74, uniform)',
  zip_digit: 'last digit of the ZIP code (0–9, uniform); the label does not depend on it',
};

/** The rule's weights per feature (log-odds per unit) and the reference values they are centred on. */
export const CREDIT_RULE = {
  intercept: 0.3,
  income: { weight: 1.4, transform: 'ln(income / 45)' },
  debt_to_income: { weight: -7.5, center: 0.3 },
  recent_delinquencies: { weight: -1.1, center: 0 },
  credit_history_years: { weight: 0.07, center: 8 },
  open_accounts: { weight: -0.08, center: 6 },
  age: { weight: 0.03, center: 40 },
  zip_digit: { weight: 0, center: 0 },
} as const;

/** One applicant's raw (unstandardised) features. */
export type Applicant = Record<CreditFeature, number>;

/** The log-odds of approval under the rule. */
export function ruleLogit(a: Applicant): number {
  const r = CREDIT_RULE;
  return (
    r.intercept +
    r.income.weight * Math.log(a.income / 45) +
    r.debt_to_income.weight * (a.debt_to_income - r.debt_to_income.center) +
    r.recent_delinquencies.weight * a.recent_delinquencies +
    r.credit_history_years.weight * (a.credit_history_years - r.credit_history_years.center) +
    r.open_accounts.weight * (a.open_accounts - r.open_accounts.center) +
    r.age.weight * (a.age - r.age.center)
  );
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

/** All CREDIT_COUNT applicants and their labels (1 = approve), in a fixed order. */
export function creditApplicants(): { applicants: Applicant[]; labels: number[] } {
  const rand = seededRandom(CREDIT_SEED);
  const normal = () => {
    // Box–Muller, one value per call
    const u = Math.max(rand(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
  const applicants: Applicant[] = [];
  const labels: number[] = [];
  for (let i = 0; i < CREDIT_COUNT; i++) {
    const age = 21 + Math.floor(rand() * 54);
    const credit_history_years = round((age - 18) * Math.pow(rand(), 0.7), 1);
    const income = round(Math.exp(Math.log(38) + 0.012 * (age - 21) + 0.45 * normal()), 1);
    const debt_to_income = round(Math.min(0.8, Math.max(0.02, 0.28 + 0.12 * normal())), 2);
    let recent_delinquencies = 0;
    while (recent_delinquencies < 6 && rand() < 0.28) recent_delinquencies++;
    const open_accounts = 1 + Math.floor(rand() * 12);
    const zip_digit = Math.floor(rand() * 10);
    const a: Applicant = { income, debt_to_income, recent_delinquencies, credit_history_years, open_accounts, age, zip_digit };
    applicants.push(a);
    labels.push(rand() < 1 / (1 + Math.exp(-ruleLogit(a))) ? 1 : 0);
  }
  return { applicants, labels };
}

/** Mean and standard deviation per feature (input order). */
export interface Standardization {
  readonly features: readonly CreditFeature[];
  readonly mean: number[];
  readonly std: number[];
}

/** Training-set mean and (population) standard deviation per feature. */
export function fitStandardization(applicants: readonly Applicant[]): Standardization {
  const mean = CREDIT_FEATURES.map((f) => applicants.reduce((s, a) => s + a[f], 0) / applicants.length);
  const std = CREDIT_FEATURES.map((f, k) => Math.sqrt(applicants.reduce((s, a) => s + (a[f] - mean[k]) ** 2, 0) / applicants.length));
  return { features: CREDIT_FEATURES, mean, std };
}

/** Standardised features, row-major [applicants.length, 7]. */
export function standardize(applicants: readonly Applicant[], s: Pick<Standardization, 'mean' | 'std'>): Float32Array {
  const out = new Float32Array(applicants.length * CREDIT_FEATURES.length);
  applicants.forEach((a, i) => CREDIT_FEATURES.forEach((f, k) => (out[i * CREDIT_FEATURES.length + k] = (a[f] - s.mean[k]) / s.std[k])));
  return out;
}

/** The training or held-out part: the first 80% of the applicants train. */
export function creditSet(part: 'train' | 'heldOut'): { applicants: Applicant[]; labels: number[]; firstIndex: number } {
  const { applicants, labels } = creditApplicants();
  const cut = Math.floor(CREDIT_COUNT * CREDIT_TRAIN_FRACTION);
  return part === 'train' ? { applicants: applicants.slice(0, cut), labels: labels.slice(0, cut), firstIndex: 0 } : { applicants: applicants.slice(cut), labels: labels.slice(cut), firstIndex: cut };
}

/** The rule's own accuracy (predict approve when z > 0): the best any model can expect on average. */
export function ruleAccuracy(applicants: readonly Applicant[], labels: readonly number[]): number {
  let right = 0;
  applicants.forEach((a, i) => {
    if ((ruleLogit(a) > 0 ? 1 : 0) === labels[i]) right++;
  });
  return right / applicants.length;
}

/** A feature's raw value as the card writes it (income in thousands, ratios with two decimals). */
export function formatFeatureValue(feature: CreditFeature, value: number): string {
  switch (feature) {
    case 'income':
      return `${value.toFixed(1)}k`;
    case 'debt_to_income':
      return value.toFixed(2);
    case 'credit_history_years':
      return `${value.toFixed(1)} years`;
    case 'age':
      return `${value} years`;
    default:
      return String(value);
  }
}

/**
 * One sentence per feature of a ranking (largest |relevance| first), e.g.
 * "debt_to_income = 0.53 pushed toward decline by 1.278 (31.0% of the total |relevance|)".
 * The relevance explains the approval logit: > 0 pushes toward approve, < 0 toward decline.
 */
export function describeApplicant(ranked: ReadonlyArray<{ name: string; relevance: number; share: number }>, applicant: Applicant, decimals = 3): string[] {
  return ranked.map((f) => {
    const value = formatFeatureValue(f.name as CreditFeature, applicant[f.name as CreditFeature]);
    const toward = f.relevance > 0 ? 'approve' : 'decline';
    const by = Math.abs(f.relevance).toFixed(decimals);
    const what = f.relevance === 0 ? 'did not move the score' : `pushed toward ${toward} by ${by}`;
    return `${f.name} = ${value} ${what} (${(100 * f.share).toFixed(1)}% of the total |relevance|)`;
  });
}
