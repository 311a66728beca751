// The signed-in actors of the cloud tests: users of the reference stacks' user pools, signed in as a
// client app signs in (scripts/demo/identities.ts). Each test module gets its own clients.
import { localApiUrl } from '../../localstack/endpoints';
import { ApiClient, CoffeeClient, shopActors } from '../../scripts/demo/coffeeClient';
import { userDirectoryOf, UserDirectoryClient, type Identity } from '../../scripts/demo/identities';
import { stackOutputs } from './outputs';

let coffee: UserDirectoryClient | undefined;
let wallet: UserDirectoryClient | undefined;

/** The coffee shop's user pool. */
export const coffeeUsers = (): UserDirectoryClient => (coffee ??= new UserDirectoryClient(userDirectoryOf(stackOutputs('CoffeeShop'))));
/** The wallet's user pool. */
export const walletUsers = (): UserDirectoryClient => (wallet ??= new UserDirectoryClient(userDirectoryOf(stackOutputs('Wallet'), 'Wallet')));

/** The coffee shop's API with its actors signed in: `customer` (default `customer-1`), the barista, the counter, an operator. */
export const coffeeShop = async (customer?: string): Promise<CoffeeClient> => new CoffeeClient(localApiUrl(stackOutputs('CoffeeShop').ApiId!), await shopActors(coffeeUsers(), customer));

/** The wallet's API, as an account holder (default `holder-1`). */
export const walletAs = async (holder = 'holder-1'): Promise<ApiClient> => new ApiClient(localApiUrl(stackOutputs('Wallet').WalletApiId!), await walletUsers().user(holder, ['account-holder']));

/** A fraud operator of the wallet. */
export const fraudOperator = (): Promise<Identity> => walletUsers().user('fraud-operator-1', ['fraud-operator']);
